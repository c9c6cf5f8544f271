/**
 * Viewer routing at scale: requests per second of one coordinator process on
 * one core with 10,000 registered nodes and 1,000 streams, and p99 latency.
 *
 *   node --import tsx bench/route.ts [--nodes 10000] [--streams 1000] [--connections 32] [--duration 10]
 *
 * The coordinator (bench/route-server.ts) runs pinned to core 0, wrk (one
 * thread) pinned to core 1, all on 127.0.0.1. wrk asks each round for random
 * streams with a random region hint. Measured in the same run, on the same
 * process:
 *   - GET /v1/streams/:id/nodes   the indexed route (the figure; target ≥ 10,000/s)
 *   - POST /v1/streams/:id/sessions   a ticket (signed, stored) with its candidates
 *   - GET /healthz   a static JSON reply on the same HTTP server: the HTTP floor
 *   - the list-and-score route the coordinator used before the index, from the same store
 * Installs wrk through apt when missing (scripts/setup.sh).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    nodes: { type: "string", default: "10000" },
    streams: { type: "string", default: "1000" },
    connections: { type: "string", default: "32" },
    duration: { type: "string", default: "10" }, // s per measured round
  },
});
const say = (line: string) => console.log(`[bench] ${line}`);
const streams = Number(values.streams);
const duration = Number(values.duration);

execFileSync("bash", ["scripts/setup.sh", "wrk"], { stdio: "inherit" });
const pin = (core: number, cmd: string[]) => (hasTaskset() ? ["taskset", "-c", String(core), ...cmd] : cmd);
function hasTaskset(): boolean {
  try {
    execFileSync("taskset", ["-c", "0", "true"]);
    return true;
  } catch {
    return false;
  }
}

interface Ready {
  coordinator: string;
  reference: string;
  regions: string[];
}

function startServer(): Promise<{ proc: ChildProcess; ready: Ready }> {
  const [cmd, ...args] = pin(0, [
    process.execPath,
    "--import",
    "tsx",
    "bench/route-server.ts",
    "--nodes",
    values.nodes,
    "--streams",
    values.streams,
  ]) as [string, ...string[]];
  const proc = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    proc.once("exit", (code) => reject(new Error(`route server exited ${code}`)));
    createInterface({ input: proc.stdout as NodeJS.ReadableStream }).once("line", (line) =>
      resolve({ proc, ready: JSON.parse(line) as Ready }),
    );
  });
}

/** CPU seconds (user + system) of a process, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ
}

interface Result {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  serverCpu: number; // % of one core
}

const toMs = (v: string | undefined) => {
  const m = /^([\d.]+)(us|ms|s)$/.exec(v ?? "");
  if (!m) return Number.NaN;
  return Number(m[1]) * (m[2] === "us" ? 0.001 : m[2] === "s" ? 1000 : 1);
};

/** A wrk Lua script: each request for a random stream, with a random region hint. */
function script(dir: string, name: string, kind: "nodes" | "sessions" | "static", regions: string[]): string {
  const file = join(dir, `${name}.lua`);
  const body = `{"viewerKey":"${"A".repeat(43)}","region":"%s"}`;
  writeFileSync(
    file,
    `math.randomseed(7)
local regions = { ${regions.map((r) => `"${r}"`).join(", ")} }
request = function()
  local s = "s" .. math.random(0, ${streams - 1})
  local r = regions[math.random(#regions)]
  ${
    kind === "nodes"
      ? `return wrk.format("GET", "/v1/streams/" .. s .. "/nodes?region=" .. r)`
      : kind === "sessions"
        ? `return wrk.format("POST", "/v1/streams/" .. s .. "/sessions", { ["content-type"] = "application/json" }, string.format('${body}', r))`
        : `return wrk.format("GET", "/healthz")`
  }
end
`,
  );
  return file;
}

function wrk(base: string, lua: string, seconds: number, serverPid: number): Result {
  const before = cpuSeconds(serverPid);
  const [cmd, ...args] = pin(1, [
    "wrk",
    "-t1",
    `-c${values.connections}`,
    `-d${seconds}s`,
    "--timeout",
    "30s",
    "--latency",
    "-s",
    lua,
    base,
  ]) as [string, ...string[]];
  const out = execFileSync(cmd, args, { encoding: "utf8" });
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1];
  if (errors) throw new Error(`${lua}: ${errors} error responses\n${out}`);
  if (/Socket errors:.*timeout [1-9]/.test(out)) throw new Error(`${lua}: timeouts\n${out}`);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN),
    p50Ms: toMs(/\s50%\s+(\S+)/.exec(out)?.[1]),
    p99Ms: toMs(/\s99%\s+(\S+)/.exec(out)?.[1]),
    serverCpu: ((cpuSeconds(serverPid) - before) / seconds) * 100,
  };
}

say(`starting the coordinator with ${values.nodes} nodes and ${values.streams} streams (pinned to core 0)`);
const started = performance.now();
const { proc, ready } = await startServer();
say(`ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
try {
  const pid = proc.pid ?? 0;
  // What a viewer gets: at least 3 candidates with reasons.
  const sample = (await (
    await fetch(`${ready.coordinator}/v1/streams/s${Math.floor(streams / 2)}/nodes?region=eu-west`)
  ).json()) as {
    nodes: Array<{ nodeId: string; reasons: string[] }>;
  };
  say(
    `sample reply for s500: ${JSON.stringify(sample.nodes.slice(0, 2))} … (${sample.nodes.length} candidates)`,
  );
  if (sample.nodes.length < 3 || sample.nodes.some((n) => n.reasons.length === 0))
    throw new Error("the route answered fewer than 3 candidates or no reasons");
  const refCount = (
    (await (await fetch(`${ready.reference}/v1/streams/s0/nodes`)).json()) as { nodes: unknown[] }
  ).nodes.length;
  say(`reference route lists ${refCount} nodes for the most popular stream`);

  const dir = mkdtempSync(join(tmpdir(), "srp-route-"));
  const lua = {
    nodes: script(dir, "nodes", "nodes", ready.regions),
    sessions: script(dir, "sessions", "sessions", ready.regions),
    static: script(dir, "static", "static", ready.regions),
  };
  say("warm-up (JIT) 3 s");
  wrk(ready.coordinator, lua.nodes, 3, pid);
  const runs: Array<[string, string, string, number]> = [
    ["route", ready.coordinator, lua.nodes, duration],
    ["ticket", ready.coordinator, lua.sessions, duration],
    ["static", ready.coordinator, lua.static, duration],
    ["listscore", ready.reference, lua.nodes, Math.min(duration, 5)],
  ];
  const results = new Map<string, Result>();
  for (const [name, base, script, seconds] of runs) {
    say(`${name}: ${seconds} s, ${values.connections} connections`);
    const r = wrk(base, script, seconds, pid);
    results.set(name, r);
    say(
      `${name.padEnd(9)} ${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  server CPU ${r.serverCpu.toFixed(0)}%`,
    );
  }
  const get = (name: string) => results.get(name) as Result;
  const figures: Array<[string, number, string]> = [
    ["route_rps", get("route").rps, "req/s"],
    ["route_p99_ms", get("route").p99Ms, "ms"],
    ["route_server_cpu", get("route").serverCpu, "%"],
    ["ticket_rps", get("ticket").rps, "req/s"],
    ["ticket_p99_ms", get("ticket").p99Ms, "ms"],
    ["reference_static_rps", get("static").rps, "req/s"],
    ["reference_static_p99_ms", get("static").p99Ms, "ms"],
    ["reference_listscore_rps", get("listscore").rps, "req/s"],
    ["reference_listscore_p99_ms", get("listscore").p99Ms, "ms"],
    ["route_vs_static", get("route").rps / get("static").rps, "ratio"],
    ["route_vs_listscore", get("route").rps / get("listscore").rps, "ratio"],
  ];
  for (const [name, value, unit] of figures) console.log(`RESULT ${name} ${value.toFixed(3)} ${unit}`);
  if (figures.some(([, value]) => !Number.isFinite(value) || value <= 0)) process.exitCode = 1;
} finally {
  proc.kill("SIGTERM");
}
