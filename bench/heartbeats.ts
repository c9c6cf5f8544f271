/**
 * Heartbeats per second one coordinator process (pinned to one core) absorbs
 * with 10,000 registered nodes and 1,000 streams, on SQLite and on PostgreSQL,
 * against the same process's /healthz (the HTTP floor) in the same run. The
 * load generator is wrk (another process, the other core), each request a
 * heartbeat of a random node with that node's own token.
 *
 *   node --import tsx bench/heartbeats.ts [--nodes 10000] [--streams 1000] [--connections 64] [--duration 10]
 *
 * Also reported: database statements per heartbeat (the coordinator writes
 * heartbeat state in batches, read from its /metrics) and the p99 latency.
 * Setup writes the nodes straight into the database (registering 10,000 signed
 * registrations would only measure secp256k1), then starts the coordinator.
 */

import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { PostgresStore, SqliteStore, type SqlStore } from "@streamrp2p/coordinator";
import { freshDatabase, startPostgres } from "../test/support/postgres-server.ts";

const { values } = parseArgs({
  options: {
    nodes: { type: "string", default: "10000" },
    streams: { type: "string", default: "1000" },
    connections: { type: "string", default: "64" },
    duration: { type: "string", default: "10" }, // s
  },
});
const NODES = Number(values.nodes);
const STREAMS = Number(values.streams);
const say = (line: string) => console.log(`[bench] ${line}`);

execFileSync("bash", ["scripts/setup.sh", "wrk", "postgresql"], { stdio: "inherit" });

const dir = mkdtempSync(join(tmpdir(), "srp-bench-hb-"));
const nodesFile = join(dir, "nodes.txt");
const ids = Array.from(
  { length: NODES },
  (_, i) => `0x${createHash("sha256").update(`node${i}`).digest("hex").slice(0, 40)}`,
);
const tokens = ids.map(() => randomBytes(32).toString("hex"));
writeFileSync(nodesFile, ids.map((id, i) => `${id} ${tokens[i]}\n`).join(""));

async function seed(store: SqlStore): Promise<void> {
  await store.migrate();
  const now = Date.now();
  await store.recordHeartbeats(
    ids.map((id, i) => ({
      node: {
        nodeId: id,
        url: `http://127.0.0.1:${10_000 + (i % 50_000)}`,
        region: ["eu-west", "us-east", "ap-south"][i % 3] as string,
        capacityMbps: 100 + (i % 900),
        ingest: i < 2 * STREAMS,
        streams: [],
        tokenHash: createHash("sha256")
          .update(tokens[i] as string)
          .digest("hex"),
        registeredAt: now,
        lastHeartbeatAt: now,
        connections: 0,
        egressBps: 0,
        bytesServed: 0,
        load:
          i < 2 * STREAMS
            ? [{ streamId: `s${Math.floor(i / 2)}`, upstream: null, liveEdgeSeq: 5, viewers: 0 }]
            : [],
        draining: false,
      },
      uptime: { up: 0, down: 0, last: now },
      changedAt: now,
    })),
  );
  for (let s = 0; s < STREAMS; s++) {
    await store.insertStream({
      streamId: `s${s}`,
      signer: `0x${"1".repeat(40)}`,
      createdAt: now,
      ingest: [ids[2 * s] as string, ids[2 * s + 1] as string],
    });
  }
  await store.close();
}

function startCoordinator(args: string[]): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(
    "taskset",
    ["-c", "0", process.execPath, "packages/cli/bin/streamrp2p.js", "coordinator", "--port", "0", ...args],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, SRP_LOG_LEVEL: "warn" } },
  );
  proc.stderr?.on("data", (d: Buffer) => process.stderr.write(d));
  return new Promise((resolve, reject) => {
    let out = "";
    proc.once("exit", (code) => reject(new Error(`coordinator exited ${code}: ${out}`)));
    proc.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /coordinator at (http:\/\/[0-9.:]+)/.exec(out);
      if (m?.[1]) resolve({ proc, url: m[1] });
    });
  });
}

interface WrkResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

function toMs(v: string, unit: string): number {
  const n = Number(v);
  return unit === "us" ? n / 1000 : unit === "s" ? n * 1000 : n;
}

function wrk(url: string, script: string | undefined, seconds: number): WrkResult {
  const args = ["-c", "1", "wrk", "-t1", `-c${values.connections}`, `-d${seconds}s`, "--latency"];
  if (script) args.push("-s", script);
  const r = spawnSync("taskset", [...args, url], {
    encoding: "utf8",
    env: { ...process.env, SRP_HB_NODES: nodesFile },
  });
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr}`);
  const out = r.stdout;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const lat = (p: string) => {
    const m = new RegExp(`${p}%\\s+([\\d.]+)(us|ms|s)`).exec(out);
    return m ? toMs(m[1] as string, m[2] as string) : Number.NaN;
  };
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = non2xx + (socketErrors ? socketErrors.slice(1).reduce((n, x) => n + Number(x), 0) : 0);
  return { rps, p50Ms: lat("50"), p99Ms: lat("99"), errors };
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([\\d.e+]+)$`, "m").exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

async function measure(label: string, args: string[]) {
  say(`${label}: starting the coordinator (one core) with ${NODES} nodes, ${STREAMS} streams`);
  const c = await startCoordinator(args);
  try {
    say(`${label}: warm-up 2 s`);
    wrk(`${c.url}`, "bench/heartbeats.lua", 2);
    const rows0 = await metric(c.url, "srp_coordinator_heartbeat_rows_written_total");
    const st0 = await metric(c.url, "srp_coordinator_heartbeat_statements_total");
    say(`${label}: heartbeats for ${values.duration} s`);
    const hb = wrk(`${c.url}`, "bench/heartbeats.lua", Number(values.duration));
    await new Promise((r) => setTimeout(r, 1_500)); // the last batch
    const rows = (await metric(c.url, "srp_coordinator_heartbeat_rows_written_total")) - rows0;
    const statements = (await metric(c.url, "srp_coordinator_heartbeat_statements_total")) - st0;
    const heartbeats = hb.rps * Number(values.duration);
    say(
      `${label}: ${hb.rps.toFixed(0)} heartbeats/s, p50 ${hb.p50Ms.toFixed(2)} ms, p99 ${hb.p99Ms.toFixed(2)} ms, ` +
        `${hb.errors} errors; ${rows} rows in ${statements} statements (${(statements / heartbeats).toFixed(5)} per heartbeat)`,
    );
    say(`${label}: the same process's /healthz for ${values.duration} s (HTTP floor)`);
    const floor = wrk(`${c.url}/healthz`, undefined, Number(values.duration));
    say(`${label}: /healthz ${floor.rps.toFixed(0)}/s`);
    if (hb.errors > 0) throw new Error(`${label}: ${hb.errors} heartbeats failed`);
    return { hb, floor, statementsPerHeartbeat: statements / heartbeats };
  } finally {
    const gone = new Promise((r) => c.proc.once("exit", r));
    c.proc.kill("SIGTERM");
    await Promise.race([gone, new Promise((r) => setTimeout(r, 10_000))]);
    c.proc.kill("SIGKILL");
  }
}

const figures: [string, number, string][] = [];
const pg = await startPostgres();
try {
  const sqliteDir = join(dir, "sqlite");
  await seed(new SqliteStore(sqliteDir));
  const s = await measure("SQLite", ["--data-dir", sqliteDir, "--probe-interval-ms", "0"]);
  const pgUrl = await freshDatabase(pg.url, "bench");
  await seed(new PostgresStore(pgUrl));
  const p = await measure("PostgreSQL", [
    "--data-dir",
    join(dir, "pg"),
    "--postgres",
    pgUrl,
    "--probe-interval-ms",
    "0",
  ]);
  const needed = NODES / 2; // one heartbeat per node every 2 s (the default interval)
  figures.push(
    ["heartbeats_sqlite", s.hb.rps, "per_s"],
    ["heartbeats_sqlite_p99", s.hb.p99Ms, "ms"],
    ["heartbeats_postgres", p.hb.rps, "per_s"],
    ["heartbeats_postgres_p99", p.hb.p99Ms, "ms"],
    ["heartbeats_postgres_vs_healthz", p.hb.rps / p.floor.rps, "ratio"],
    ["heartbeats_postgres_vs_needed", p.hb.rps / needed, "ratio"],
    ["db_statements_per_heartbeat_postgres", p.statementsPerHeartbeat, "ratio"],
  );
} finally {
  await pg.stop();
}
for (const [name, value, unit] of figures) console.log(`RESULT ${name} ${value.toPrecision(4)} ${unit}`);
if (figures.length === 0 || figures.some(([, v]) => !Number.isFinite(v) || v <= 0)) process.exitCode = 1;
