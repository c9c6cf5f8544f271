import cluster, { type Worker } from "node:cluster";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { SrpError } from "@streamrp2p/protocol";
import type { Logger } from "@streamrp2p/service";
import type { FromWorker, ToWorker, WorkerConfig, WorkerStats } from "./messages.ts";

const WORKER_ENTRY = fileURLToPath(new URL("../../bin/relay-worker.js", import.meta.url));

/** Worker process supervision, with units. */
export const WORKER_POOL_DEFAULTS = {
  /** A worker reports its counts this often (and at least every second, to show it is alive). */
  statsIntervalMs: 100, // ms
  /** A worker not heard from for this long is frozen or stuck: it is killed and replaced. */
  stallMs: 5_000, // ms
  /** Replication bytes queued for one worker beyond this: it cannot keep up; it is replaced. */
  maxBacklogBytes: 256 * 1024 * 1024, // bytes
  /** First restart delay after a crash; doubles for each crash within `stableAfterMs`, up to `maxRestartDelayMs`. */
  restartDelayMs: 100, // ms
  maxRestartDelayMs: 10_000, // ms
  stableAfterMs: 10_000, // ms
  /** A worker must say hello and listen within this. */
  startTimeoutMs: 30_000, // ms
} as const;

interface Member {
  worker: Worker;
  /** Synced: included in broadcasts. Ready: listening. */
  state: "booting" | "synced" | "ready";
  startedAt: number;
  lastHeardAt: number;
  backlogBytes: number;
  connections: number;
}

export interface WorkerPoolDeps {
  count: number;
  /** The config each worker gets; `port` 0 is resolved once, so every worker (and every replacement) shares one. */
  config: WorkerConfig;
  log: Logger;
  /** Sends everything the primary holds to a new worker. */
  sync(send: (msg: ToWorker) => void): void;
  onStats(stats: WorkerStats): void;
}

/** One relay with workers per process: node:cluster's listening handles are per process, keyed by address. */
let poolInThisProcess = false;

function bytesOf(msg: ToWorker): number {
  if (msg.t === "put") return msg.chunks.reduce((n, c) => n + c.length, 0);
  if (msg.t === "chunk") return msg.bytes.length;
  return 0;
}

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().once("error", reject);
    s.listen(0, host, () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/**
 * The worker processes of a relay (node:cluster, round-robin: the primary
 * accepts each connection and hands it to the next worker, which spreads
 * connections evenly where a shared accept queue does not). Replaces a worker
 * that dies, freezes or falls behind, with backoff when they keep crashing.
 */
export class WorkerPool {
  readonly #d: WorkerPoolDeps;
  readonly #members = new Map<Worker, Member>();
  #stopping = false;
  #restarts = 0;
  #crashesInARow = 0;
  #watchdog: NodeJS.Timeout | undefined;
  #config: WorkerConfig;

  constructor(deps: WorkerPoolDeps) {
    this.#d = deps;
    this.#config = deps.config;
  }

  /** The port every worker listens on. */
  get port(): number {
    return this.#config.port;
  }

  async start(): Promise<void> {
    if (poolInThisProcess) throw new SrpError("BAD_REQUEST", "one relay with workers per process");
    poolInThisProcess = true;
    if (this.#config.port === 0) this.#config = { ...this.#config, port: await freePort(this.#config.host) };
    cluster.schedulingPolicy = cluster.SCHED_RR;
    cluster.setupPrimary({ exec: WORKER_ENTRY, args: [], serialization: "advanced" });
    try {
      await Promise.all(Array.from({ length: this.#d.count }, () => this.#fork()));
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.#watchdog = setInterval(() => this.#checkAlive(), 1_000);
    this.#watchdog.unref();
  }

  /** To every worker that holds the windows (and to none still booting: they get a sync). */
  broadcast(msg: ToWorker): void {
    for (const m of this.#members.values()) if (m.state !== "booting") this.#send(m, msg);
  }

  /** Serves a renewed certificate: running workers swap it in, and workers started later get it. */
  setCertificate(tls: { key: string; cert: string }): void {
    this.#config = { ...this.#config, tls };
    this.broadcast({ t: "certificate", key: tls.key, cert: tls.cert });
  }

  /** Open viewer connections, as the workers last reported them. */
  connections(): number {
    let n = 0;
    for (const m of this.#members.values()) n += m.connections;
    return n;
  }

  health(): { wanted: number; running: number; restarts: number } {
    const running = [...this.#members.values()].filter((m) => m.state === "ready").length;
    return { wanted: this.#d.count, running, restarts: this.#restarts };
  }

  /** Workers close their listeners, finish responses within `graceMs`, report, and exit. */
  async close(graceMs: number): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#watchdog);
    const exits = [...this.#members.values()].map((m) => this.#exited(m.worker));
    this.broadcast({ t: "close", graceMs });
    for (const m of this.#members.values()) if (m.state === "booting") m.worker.process.kill("SIGKILL");
    const killer = setTimeout(() => {
      for (const m of this.#members.values()) m.worker.process.kill("SIGKILL");
    }, graceMs + 2_000);
    await Promise.all(exits);
    clearTimeout(killer);
  }

  async stop(): Promise<void> {
    if (this.#members.size > 0) await this.close(0);
    this.#stopping = true;
    poolInThisProcess = false;
  }

  #exited(worker: Worker): Promise<void> {
    if (worker.isDead()) return Promise.resolve();
    return new Promise((resolve) => worker.once("exit", () => resolve()));
  }

  #send(m: Member, msg: ToWorker): void {
    if (!m.worker.isConnected()) return;
    const bytes = bytesOf(msg);
    m.backlogBytes += bytes;
    if (m.backlogBytes > WORKER_POOL_DEFAULTS.maxBacklogBytes) {
      this.#d.log.warn("worker falls behind replication; replacing it", {
        pid: m.worker.process.pid,
        backlogBytes: m.backlogBytes,
      });
      m.worker.process.kill("SIGKILL");
      return;
    }
    m.worker.send(msg, undefined, () => {
      m.backlogBytes -= bytes;
    });
  }

  /** Forks one worker; resolves once it listens, rejects when it fails to. */
  #fork(): Promise<void> {
    const worker = cluster.fork();
    const m: Member = {
      worker,
      state: "booting",
      startedAt: Date.now(),
      lastHeardAt: Date.now(),
      backlogBytes: 0,
      connections: 0,
    };
    this.#members.set(worker, m);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new SrpError("UNAVAILABLE", "a relay worker did not start in time"));
        worker.process.kill("SIGKILL");
      }, WORKER_POOL_DEFAULTS.startTimeoutMs);
      worker.on("message", (msg: FromWorker) => {
        m.lastHeardAt = Date.now();
        switch (msg.t) {
          case "hello":
            // Config, then everything held, then listen: a worker serves only a complete copy.
            this.#send(m, { t: "config", config: this.#config });
            this.#d.sync((x) => this.#send(m, x));
            m.state = "synced"; // same tick as the sync: no change falls between the two
            this.#send(m, { t: "listen" });
            return;
          case "ready":
            m.state = "ready";
            clearTimeout(timer);
            resolve();
            return;
          case "failed":
            clearTimeout(timer);
            reject(new SrpError("UNAVAILABLE", `a relay worker could not listen: ${msg.message}`));
            return;
          case "stats":
            m.connections = msg.connections;
            this.#d.onStats(msg);
            return;
          default:
            return;
        }
      });
      worker.on("error", (err) => this.#d.log.warn("worker channel error", { pid: worker.process.pid, err }));
      worker.once("exit", (code, signal) => {
        clearTimeout(timer);
        this.#members.delete(worker);
        reject(new SrpError("UNAVAILABLE", `a relay worker exited (${code ?? signal}) before it listened`));
        if (!this.#stopping) this.#replace(m, code, signal);
      });
    });
  }

  #replace(gone: Member, code: number | null, signal: string | null): void {
    const stable = Date.now() - gone.startedAt >= WORKER_POOL_DEFAULTS.stableAfterMs;
    this.#crashesInARow = stable ? 0 : this.#crashesInARow + 1;
    const delay = Math.min(
      WORKER_POOL_DEFAULTS.maxRestartDelayMs,
      WORKER_POOL_DEFAULTS.restartDelayMs * 2 ** this.#crashesInARow,
    );
    this.#d.log.warn("relay worker exited; replacing it", {
      pid: gone.worker.process.pid,
      code,
      signal,
      delayMs: delay,
    });
    this.#restarts += 1;
    setTimeout(() => {
      if (this.#stopping) return;
      this.#fork().catch((err: unknown) => this.#d.log.warn("replacement worker failed", { err }));
    }, delay).unref();
  }

  #checkAlive(): void {
    const now = Date.now();
    for (const m of this.#members.values()) {
      // A booting worker has its start timeout instead (loading the sources takes a while on a busy machine).
      if (m.state !== "booting" && now - m.lastHeardAt > WORKER_POOL_DEFAULTS.stallMs) {
        this.#d.log.warn("relay worker stopped answering; replacing it", {
          pid: m.worker.process.pid,
          silentMs: now - m.lastHeardAt,
        });
        m.worker.process.kill("SIGKILL");
        m.lastHeardAt = now; // one kill per stall
      }
    }
  }
}
