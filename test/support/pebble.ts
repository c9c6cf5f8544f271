import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { freePort, tempDir } from "./tools.ts";

export { freePort };

/**
 * Pebble, Let's Encrypt's test ACME CA (Debian's `pebble`, installed by
 * scripts/setup.sh), as a real process on 127.0.0.1: its own TLS listener
 * certificate (made here with openssl), the ACME and management APIs on free
 * ports, the http-01 validation pointed at `httpPort` (the relay's challenge
 * listener), certificates valid for `validitySeconds`. PEBBLE_VA_NOSLEEP
 * (validation at once), no rejected nonces, no reused authorizations: every
 * order really validates. Never skipped: without the binary this throws.
 */
export interface PebbleServer {
  directoryUrl: string;
  /** The ACME listener's own certificate (PEM), to trust for the directory's HTTPS. */
  listenerCaPem: string;
  /** Pebble's issuing root and intermediate, from its management API (regenerated per launch). */
  root(): Promise<string>;
  intermediate(): Promise<string>;
  proc: ChildProcess;
  output(): string;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
  freeze(): void;
  thaw(): void;
}

const BIN = "/usr/bin/pebble";

function getPem(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, timeout: 5_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        body += d;
      });
      res.on("end", () =>
        res.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: ${res.statusCode} ${body}`)),
      );
    });
    req.on("timeout", () => req.destroy(new Error(`${url}: timeout`)));
    req.on("error", reject);
    req.end();
  });
}

export async function startPebble(options: {
  httpPort: number;
  validitySeconds?: number;
}): Promise<PebbleServer> {
  if (!existsSync(BIN))
    throw new Error("pebble is not installed: run scripts/setup.sh (installs Debian's pebble)");
  const dir = tempDir("srp-pebble-");
  const key = join(dir, "listener.key");
  const cert = join(dir, "listener.pem");
  execFileSync(
    "openssl",
    [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
      ...["-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=pebble listener"],
      ...["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
    ],
    { stdio: "pipe" },
  );
  const [acmePort, mgmtPort, tlsPort] = [await freePort(), await freePort(), await freePort()];
  const config = join(dir, "pebble-config.json");
  writeFileSync(
    config,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${mgmtPort}`,
        certificate: cert,
        privateKey: key,
        httpPort: options.httpPort,
        tlsPort,
        ocspResponderURL: "",
        externalAccountBindingRequired: false,
        ...(options.validitySeconds ? { certificateValidityPeriod: options.validitySeconds } : {}),
      },
    }),
  );
  const proc = spawn(BIN, ["-config", config], {
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      PEBBLE_VA_NOSLEEP: "1",
      PEBBLE_WFE_NONCEREJECT: "0",
      PEBBLE_AUTHZREUSE: "0",
    },
  });
  let out = "";
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-16_000);
  };
  proc.stdout?.on("data", keep);
  proc.stderr?.on("data", keep);
  const listenerCaPem = readFileSync(cert, "utf8");
  const directoryUrl = `https://127.0.0.1:${acmePort}/dir`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      await getPem(directoryUrl, listenerCaPem);
      break;
    } catch (err) {
      if (proc.exitCode !== null || Date.now() > deadline) {
        proc.kill("SIGKILL");
        throw new Error(`pebble did not start: ${String(err)}\n${out}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const exit = (signal: NodeJS.Signals) => async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const gone = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGCONT"); // a frozen Pebble cannot act on SIGTERM
      proc.kill(signal);
      await gone;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return {
    directoryUrl,
    listenerCaPem,
    root: () => getPem(`https://127.0.0.1:${mgmtPort}/roots/0`, listenerCaPem),
    intermediate: () => getPem(`https://127.0.0.1:${mgmtPort}/intermediates/0`, listenerCaPem),
    proc,
    output: () => out,
    stop: exit("SIGTERM"),
    kill: exit("SIGKILL"),
    freeze: () => proc.kill("SIGSTOP"),
    thaw: () => proc.kill("SIGCONT"),
  };
}
