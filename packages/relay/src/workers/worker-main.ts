/**
 * A relay worker process: serves viewers and child relays (GET /live/...)
 * from its copy of the primary's windows, and passes everything else to the
 * primary. Started by WorkerPool through bin/relay-worker.js; it takes orders
 * from its primary only (SIGINT/SIGTERM are the primary's to act on) and
 * exits when the primary goes.
 */
import { MASTER_PLAYLIST_FILE } from "@streamrp2p/protocol";
import { createLogger, Router, type RunningHttpServer, startHttpService } from "@streamrp2p/service";
import { type ServeContext, serveMedia } from "../serve.ts";
import type { FromWorker, ToWorker, WorkerConfig } from "./messages.ts";
import { proxyToPrimary } from "./proxy.ts";
import { WindowReplica } from "./replica.ts";
import { WorkerTally } from "./tally.ts";

/** Even with nothing to report, a worker reports this often: how its primary knows it is alive. */
const ALIVE_EVERY_MS = 1_000;

const log = createLogger(`relay-worker-${process.pid}`, { level: "warn" });

function send(msg: FromWorker, done?: () => void): void {
  if (!process.connected) return;
  process.send?.(msg, undefined, undefined, () => done?.());
}

let config: WorkerConfig | undefined;
let replica: WindowReplica | undefined;
let tally: WorkerTally | undefined;
let http: RunningHttpServer | undefined;
let draining = false;
let connections = 0;
let lastReportAt = 0;

function report(force = false): void {
  if (!tally) return;
  if (!force && tally.empty && Date.now() - lastReportAt < ALIVE_EVERY_MS) return;
  lastReportAt = Date.now();
  send({ t: "stats", ...tally.take(connections) });
}

async function listen(c: WorkerConfig, r: WindowReplica, t: WorkerTally): Promise<void> {
  const serveCtx: ServeContext = {
    signer: r.signer,
    ledger: t.ledger,
    stream: (id) => r.streams.get(id),
    metrics: t,
    segmentWaitMs: c.segmentWaitMs,
    windowWaitMs: c.windowWaitMs,
    draining: () => draining,
  };
  const router = new Router(log)
    // The ladder's multivariant playlist lists rungs, which workers do not replicate: the primary's.
    .on("GET", `/live/:stream/${MASTER_PLAYLIST_FILE}`, proxyToPrimary(c.primaryUrl))
    .on("GET", "/live/:stream/:file", (req, res, p, url) => {
      t.ask(p.stream ?? ""); // demand for the primary: keeps a stream, or starts a pull
      return serveMedia(serveCtx, req, res, p.stream ?? "", p.file ?? "", url);
    })
    .otherwise(proxyToPrimary(c.primaryUrl));
  http = await startHttpService({
    host: c.host,
    port: c.port,
    limits: c.limits,
    router,
    log,
    ...(c.tls ? { tls: c.tls } : {}),
  });
  http.server.on("connection", (socket) => {
    connections += 1;
    socket.once("close", () => {
      connections -= 1;
    });
  });
  setInterval(report, c.statsIntervalMs).unref();
}

async function close(graceMs: number): Promise<void> {
  await http?.close(graceMs);
  report(true);
  send({ t: "closed" }, () => process.exit(0));
}

function onMessage(msg: ToWorker): void {
  switch (msg.t) {
    case "config":
      config = msg.config;
      replica = new WindowReplica(config.live);
      tally = new WorkerTally(() => report(true));
      return;
    case "listen":
      if (!config || !replica || !tally) return;
      listen(config, replica, tally).then(
        () => send({ t: "ready" }),
        (err: unknown) => send({ t: "failed", message: String(err) }, () => process.exit(1)),
      );
      return;
    case "drain":
      draining = true;
      for (const s of replica?.streams.values() ?? []) s.wakeAll(); // child relays' long polls answer DRAINING now
      return;
    case "close":
      void close(msg.graceMs);
      return;
    case "certificate":
      if (config) config.tls = { key: msg.key, cert: msg.cert };
      try {
        http?.setCertificate({ key: msg.key, cert: msg.cert });
      } catch (err) {
        // The primary checked the pair as node:tls loads it: this is not expected; keep the old one.
        log.error("cannot serve the renewed certificate", { err });
      }
      return;
    default:
      replica?.apply(msg);
  }
}

process.on("message", (msg) => onMessage(msg as ToWorker));
process.on("disconnect", () => process.exit(0)); // the primary is gone: nothing left to serve for
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => {}); // the primary drains us
send({ t: "hello" });
