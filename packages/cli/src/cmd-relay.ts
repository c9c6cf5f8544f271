import { CoordinatorClient } from "@streamrp2p/api-client";
import { createRelay } from "@streamrp2p/relay";
import { createLogger } from "@streamrp2p/service";
import { privateKeyToAccount } from "viem/accounts";
import { loadOrCreateKey } from "./keys.ts";
import { stopOnSignal } from "./lifecycle.ts";
import { keyFileOf, loadNodeConfig, renderNodeConfig, writeNodeConfig } from "./node-config.ts";
import { relayTlsOf } from "./relay-tls.ts";

export const relayHelp = `streamrp2p relay [--config relay.yaml] [--coordinator http://127.0.0.1:7700[,URL...]] [--support STREAM_OR_STREAMER ...]
                 [--host 127.0.0.1] [--port 8080] [--public-url URL] [--region local] [--capacity-mbps 1000]
                 [--ingest] [--data-dir .data/relay] [--key-file FILE] [--drain-grace-ms 5000] [--drain-timeout-ms 30000]
                 [--heartbeat-interval-ms 2000] [--receipt-submit-interval-ms 10000] [--log-level info]
                 [--headers-timeout-ms 10000] [--idle-timeout-ms 30000] [--max-connections 4096]
                 [--node-addresses auto|public|any] [--workers 1|N|auto] [--write-config FILE] [--print-config]
                 [--tls off|acme|files] [--acme-identifier NAME_OR_IP] [--acme-contact mailto:...] [--acme-directory URL]
                 [--acme-challenge-port 80] [--acme-ca-file PEM] [--tls-dir DIR] [--tls-cert-file PEM --tls-key-file PEM]
                 [--tls-renew-before-fraction 0.333]
  Runs a relay node (restreams to viewers and relays). Options come from the config file (YAML or JSON),
  SRP_* env vars (SRP_COORDINATOR, SRP_SUPPORT=a,b, ...) and flags; flags win. The node key is created
  on first start (<data-dir>/node.key, mode 0600) and the node's address printed. --support restreams
  only those streams or streamers (0x signer addresses); without it the node serves what the network needs.
  SIGTERM drains: no new viewers, child relays re-parent, last receipts submitted, then exit.
  --node-addresses: "public" refuses upstreams and probe tasks at internal addresses (checked at connect
  time); "auto" (default) is "any" when the coordinator is on loopback, else "public"; a LAN sets "any".
  --coordinator takes the coordinator's replicas, comma-separated (a list in the config file): calls go to
  the one that answered last and fail over to the next when one is down, refuses or hangs.
  --workers N serves viewers from N processes sharing the port (0 or auto: one per CPU core); this process
  keeps ingest, pulling, receipts and heartbeats. Default 1: one process. SIGTERM this process, not a worker.
  --tls acme serves HTTPS (HTTP/2 and HTTP/1.1) with a certificate it obtains and renews over ACME http-01
  (Let's Encrypt by default) for --acme-identifier, the relay's DNS name or public IP; the CA must reach
  --acme-challenge-port (80) on it. The account key and certificate live in --tls-dir (<data-dir>/tls, 0600).
  --tls files serves --tls-cert-file/--tls-key-file and re-reads them when they change. Default off (plain HTTP).
  --write-config FILE writes the merged, validated config as YAML and exits.`;

export async function runRelay(argv: string[]): Promise<void> {
  const { config, file, writeTo, print } = loadNodeConfig({ argv, env: process.env });
  if (writeTo) {
    writeNodeConfig(writeTo, config);
    console.log(`wrote ${writeTo}`);
    return;
  }
  if (print) {
    process.stdout.write(renderNodeConfig(config));
    return;
  }
  const keyFile = keyFileOf(config);
  const { key, created } = loadOrCreateKey(keyFile);
  const account = privateKeyToAccount(key);
  const log = createLogger("relay", { level: config.logLevel });
  const relay = createRelay(
    {
      host: config.host,
      port: config.port,
      publicUrl: config.publicUrl,
      region: config.region,
      capacityMbps: config.capacityMbps,
      ingest: config.ingest,
      streams: config.support,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      receiptSubmitIntervalMs: config.receiptSubmitIntervalMs,
      drainGraceMs: config.drainGraceMs,
      drainTimeoutMs: config.drainTimeoutMs,
      nodeAddresses: config.nodeAddresses,
      workers: config.workers,
      tls: relayTlsOf(config),
      httpLimits: {
        headersTimeoutMs: config.headersTimeoutMs,
        requestTimeoutMs: config.requestTimeoutMs,
        keepAliveTimeoutMs: config.keepAliveTimeoutMs,
        idleTimeoutMs: config.idleTimeoutMs,
        maxConnections: config.maxConnections,
      },
    },
    {
      account,
      log,
      coordinator: new CoordinatorClient({
        baseUrls: config.coordinator,
        onFailover: (url, err) => log.warn("coordinator replica failed; trying the next", { url, err }),
      }),
    },
  );
  await relay.start();
  console.log(
    `relay ${account.address}${created ? ` (new key in ${keyFile})` : ""} serving at ${relay.url}` +
      `${file ? ` (config ${file})` : ""}; supports ${config.support.length > 0 ? config.support.join(", ") : "any stream"}`,
  );
  await stopOnSignal(() => relay.drain());
}
