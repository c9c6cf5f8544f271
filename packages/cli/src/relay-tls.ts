import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { NodeConfig } from "@streamrp2p/protocol";
import type { RelayTls } from "@streamrp2p/relay";

/** The relay's HTTPS options from its config; undefined for plain HTTP (tls: off). */
export function relayTlsOf(config: NodeConfig): RelayTls | undefined {
  const renewBeforeFraction = config.tlsRenewBeforeFraction;
  if (config.tls === "files" && config.tlsCertFile && config.tlsKeyFile)
    return { mode: "files", certFile: config.tlsCertFile, keyFile: config.tlsKeyFile, renewBeforeFraction };
  if (config.tls === "acme" && config.acmeIdentifier)
    return {
      mode: "acme",
      directoryUrl: config.acmeDirectory,
      identifier: config.acmeIdentifier,
      dir: config.tlsDir ?? join(config.dataDir, "tls"),
      challengeHost: config.host,
      challengePort: config.acmeChallengePort,
      requestTimeoutMs: config.acmeRequestTimeoutMs,
      renewBeforeFraction,
      ...(config.acmeContact ? { contact: config.acmeContact } : {}),
      ...(config.acmeProfile ? { profile: config.acmeProfile } : {}),
      ...(config.acmeCaFile ? { caPem: readFileSync(config.acmeCaFile, "utf8") } : {}),
    };
  return undefined;
}
