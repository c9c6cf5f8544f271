/**
 * Relay throughput against nginx (sendfile) serving the same bytes, measured
 * by the same load generator (wrk) in the same run, all on 127.0.0.1.
 *
 *   node --import tsx bench/relay-throughput.ts [--size 1048576] [--connections 64] [--duration 10] [--rounds 3]
 *
 * Installs nginx-light and wrk through apt when missing (scripts/setup.sh).
 * Each server gets one core's worth of workers (relay: one Node process;
 * nginx: worker_processes 1) and wrk one thread: the machine has two cores.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    size: { type: "string", default: "1048576" }, // bytes
    connections: { type: "string", default: "64" },
    duration: { type: "string", default: "10" }, // s per round
    rounds: { type: "string", default: "3" },
  },
});
const size = Number(values.size);
const connections = Number(values.connections);
const duration = Number(values.duration);
const rounds = Number(values.rounds);
const say = (line: string) => console.log(`[bench] ${line}`);

execFileSync("bash", ["scripts/setup.sh", "nginx-light", "wrk"], { stdio: "inherit" });

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function startRelay(out: string): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(
    process.execPath,
    ["--import", "tsx", "bench/relay-server.ts", "--size", String(size), "--out", out],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  return new Promise((resolve, reject) => {
    proc.once("exit", (code) => reject(new Error(`relay exited ${code}`)));
    createInterface({ input: proc.stdout as NodeJS.ReadableStream }).once("line", (url) =>
      resolve({ proc, url }),
    );
  });
}

async function startNginx(root: string): Promise<{ proc: ChildProcess; url: string }> {
  const port = await freePort();
  const conf = join(root, "nginx.conf");
  writeFileSync(
    conf,
    `daemon off; worker_processes 1; pid ${root}/nginx.pid; error_log ${root}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000000;
  client_body_temp_path ${root}; proxy_temp_path ${root}; fastcgi_temp_path ${root}; uwsgi_temp_path ${root}; scgi_temp_path ${root};
  server { listen 127.0.0.1:${port}; root ${root}; location / { types { } default_type video/iso.segment; } }
}
`,
  );
  const proc = spawn("nginx", ["-c", conf, "-p", root], { stdio: "inherit" });
  await new Promise((r) => setTimeout(r, 500));
  return { proc, url: `http://127.0.0.1:${port}/seg-0.m4s` };
}

interface Result {
  requestsPerSec: number;
  gbitPerSec: number;
  p99: string;
  /** Server CPU over the run, % of one core: near 100 means the server, not wrk, is the limit. */
  serverCpu: number;
}

/** CPU seconds (user + system) of a process and its children, from /proc. */
function cpuSeconds(pid: number): number {
  const children = spawnSync("pgrep", ["-P", String(pid)], { encoding: "utf8" }).stdout; // nginx workers
  const pids = [pid, ...children.split("\n").filter(Boolean).map(Number)];

  const ticks = pids.reduce((sum, p) => {
    const fields = readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    return sum + Number(fields[11]) + Number(fields[12]);
  }, 0);
  return ticks / 100; // USER_HZ
}

function wrk(url: string, serverPid: number): Result {
  const cpuBefore = cpuSeconds(serverPid);
  const out = execFileSync("wrk", ["-t1", `-c${connections}`, `-d${duration}s`, "--latency", url], {
    encoding: "utf8",
  });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
  const p99 = /99%\s+(\S+)/.exec(out)?.[1] ?? "?";
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1];
  if (errors) throw new Error(`${url}: ${errors} error responses`);
  const serverCpu = ((cpuSeconds(serverPid) - cpuBefore) / duration) * 100;
  return { requestsPerSec: rps, gbitPerSec: (rps * size * 8) / 1e9, p99, serverCpu };
}

const root = mkdtempSync(join(tmpdir(), "srp-bench-"));
say(`segment ${size} bytes, ${connections} connections, ${rounds} rounds of ${duration} s each, wrk -t1`);
const relay = await startRelay(join(root, "seg-0.m4s"));
const nginx = await startNginx(root);
try {
  for (const target of [relay.url, nginx.url]) {
    const res = await fetch(target);
    const body = Buffer.from(await res.arrayBuffer());
    if (res.status !== 200 || body.length !== size)
      throw new Error(`${target}: bad response ${res.status} ${body.length}`);
  }
  const pidOf = { relay: relay.proc.pid ?? 0, nginx: nginx.proc.pid ?? 0 };
  wrk(relay.url, pidOf.relay); // warm-up (JIT, TCP buffers)
  wrk(nginx.url, pidOf.nginx);
  const results: { relay: Result[]; nginx: Result[] } = { relay: [], nginx: [] };
  for (let round = 1; round <= rounds; round++) {
    for (const [name, url] of [
      ["relay", relay.url],
      ["nginx", nginx.url],
    ] as const) {
      const r = wrk(url, pidOf[name]);
      results[name].push(r);
      say(
        `round ${round}/${rounds} ${name.padEnd(5)} ${r.gbitPerSec.toFixed(2)} Gbit/s  ${r.requestsPerSec.toFixed(0)} req/s  p99 ${r.p99}  server CPU ${r.serverCpu.toFixed(0)}%`,
      );
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  const relayG = median(results.relay.map((r) => r.gbitPerSec));
  const nginxG = median(results.nginx.map((r) => r.gbitPerSec));
  say(
    `median: relay ${relayG.toFixed(2)} Gbit/s, nginx ${nginxG.toFixed(2)} Gbit/s, ratio ${(relayG / nginxG).toFixed(2)}`,
  );
  // Throughput per core of server CPU: what the server could do if the client were not the limit.
  const perCore = (rs: Result[]) => median(rs.map((r) => r.gbitPerSec / (r.serverCpu / 100)));
  const relayE = perCore(results.relay);
  const nginxE = perCore(results.nginx);
  say(
    `efficiency: relay ${relayE.toFixed(1)} Gbit/s per core, nginx ${nginxE.toFixed(1)} Gbit/s per core, ratio ${(relayE / nginxE).toFixed(2)}`,
  );
  // One machine-readable line per figure; a figure that could not be measured fails the run.
  const figures: Array<[string, number, string]> = [
    ["relay_gbit_s", relayG, "Gbit/s"],
    ["nginx_gbit_s", nginxG, "Gbit/s"],
    ["relay_vs_nginx", relayG / nginxG, "ratio"],
    ["relay_vs_nginx_per_core", relayE / nginxE, "ratio"],
  ];
  for (const [name, value, unit] of figures) console.log(`RESULT ${name} ${value.toFixed(3)} ${unit}`);
  if (figures.some(([, value]) => !Number.isFinite(value) || value <= 0)) process.exitCode = 1;
} finally {
  relay.proc.kill("SIGTERM");
  nginx.proc.kill("SIGQUIT");
}
