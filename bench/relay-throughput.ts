/**
 * Relay throughput against nginx (sendfile) serving the same bytes, measured
 * by the same load generator (wrk, its own process) in the same run, all on
 * 127.0.0.1. Three cases, each relay against nginx with as many workers:
 *
 *   1. one 1 MiB segment, 64 connections: relay (one process) vs nginx worker_processes 1
 *   2. the same with two workers each: relay --workers 2 vs nginx worker_processes 2
 *   3. many streams: 100 streams of 6 segments (256 KiB), playlists and segments
 *      mixed half and half at random, 1,000 connections; relay --workers 2 vs nginx 2
 *
 *   node --import tsx bench/relay-throughput.ts [--size 1048576] [--connections 64] [--duration 8] [--rounds 3]
 *        [--streams 100] [--stream-segments 6] [--many-size 262144] [--many-connections 1000] [--cases 1,2,3]
 *
 * With --tls (npm run bench:tls): case 1 over HTTPS, the relay and nginx
 * (ssl) serving the same bytes with the same certificate and key (ECDSA
 * P-256, made here with openssl), wrk over TLS with keep-alive (HTTP/1.1).
 * Figures are named tls_*.
 *
 * Installs nginx-light and wrk through apt when missing (scripts/setup.sh).
 * wrk runs one thread: the machine has two cores, which the server under test
 * and the load generator share (see docs/benchmarks.md).
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { get as httpGet } from "node:http";
import { get as httpsGet } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    size: { type: "string", default: "1048576" }, // bytes
    connections: { type: "string", default: "64" },
    duration: { type: "string", default: "8" }, // s per round
    rounds: { type: "string", default: "3" },
    streams: { type: "string", default: "100" },
    "stream-segments": { type: "string", default: "6" },
    "many-size": { type: "string", default: "262144" }, // bytes: 1 s of 2 Mbit/s video
    "many-connections": { type: "string", default: "1000" },
    cases: { type: "string", default: "1,2,3" },
    tls: { type: "boolean", default: false },
  },
});
const duration = Number(values.duration);
const rounds = Number(values.rounds);
const tls = values.tls;
// HTTPS needs a relay of one process (workers do not hold certificates): case 1 only.
const cases = tls ? new Set([1]) : new Set(values.cases.split(",").map(Number));
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

interface Server {
  proc: ChildProcess;
  base: string;
  stop(): Promise<void>;
}

function stopper(proc: ChildProcess, signal: NodeJS.Signals): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
      proc.once("exit", () => resolve());
      proc.kill(signal);
    });
}

interface Certificate {
  key: string;
  cert: string;
  pem: string;
}

/** One self-signed ECDSA P-256 certificate for 127.0.0.1, which both servers present. */
function makeCertificate(root: string): Certificate {
  const key = join(root, "tls.key");
  const cert = join(root, "tls.pem");
  execFileSync(
    "openssl",
    [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
      ...["-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=bench"],
      ...["-addext", "subjectAltName=IP:127.0.0.1"],
    ],
    { stdio: "pipe" },
  );
  return { key, cert, pem: readFileSync(cert, "utf8") };
}

/** The relay process, holding the content it also writes under `root` for nginx. */
function startRelay(root: string, args: string[], cert?: Certificate): Promise<Server> {
  const tlsArgs = cert ? ["--tls-key", cert.key, "--tls-cert", cert.cert] : [];
  const proc = spawn(
    process.execPath,
    ["--import", "tsx", "bench/relay-server.ts", "--out", root, ...args, ...tlsArgs],
    {
      stdio: ["ignore", "pipe", "inherit"],
      // Its own pushes go to its HTTPS URL.
      env: cert ? { ...process.env, NODE_EXTRA_CA_CERTS: cert.cert } : process.env,
    },
  );
  return new Promise((resolve, reject) => {
    proc.once("exit", (code) => reject(new Error(`relay exited ${code}`)));
    createInterface({ input: proc.stdout as NodeJS.ReadableStream }).once("line", (base) =>
      resolve({ proc, base, stop: stopper(proc, "SIGTERM") }),
    );
  });
}

async function startNginx(root: string, workers: number, cert?: Certificate): Promise<Server> {
  const port = await freePort();
  const conf = join(root, `nginx-${workers}.conf`);
  writeFileSync(
    conf,
    `daemon off; worker_processes ${workers}; pid ${root}/nginx.pid; error_log ${root}/error.log warn;
worker_rlimit_nofile 8192;
events { worker_connections 4096; }
http {
  access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000000;
  client_body_temp_path ${root}; proxy_temp_path ${root}; fastcgi_temp_path ${root}; uwsgi_temp_path ${root}; scgi_temp_path ${root};
  server {
    listen 127.0.0.1:${port}${cert ? " ssl" : ""}; root ${root}; location / { types { } default_type video/iso.segment; }
    ${cert ? `ssl_certificate ${cert.cert}; ssl_certificate_key ${cert.key}; ssl_protocols TLSv1.2 TLSv1.3; ssl_session_cache shared:SSL:1m;` : ""}
  }
}
`,
  );
  const proc = spawn("nginx", ["-c", conf, "-p", root], { stdio: "inherit" });
  await new Promise((r) => setTimeout(r, 500));
  return { proc, base: `${cert ? "https" : "http"}://127.0.0.1:${port}`, stop: stopper(proc, "SIGQUIT") };
}

interface Result {
  requestsPerSec: number;
  gbitPerSec: number;
  p99: string;
  /** Server CPU over the run, % of one core (200 = two cores busy). */
  serverCpu: number;
}

/** CPU seconds (user + system) of a process and its children (nginx or relay workers), from /proc. */
function cpuSeconds(pid: number): number {
  const children = spawnSync("pgrep", ["-P", String(pid)], { encoding: "utf8" }).stdout;
  const pids = [pid, ...children.split("\n").filter(Boolean).map(Number)];
  const ticks = pids.reduce((sum, p) => {
    try {
      const fields = readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
      return sum + Number(fields[11]) + Number(fields[12]);
    } catch {
      return sum; // exited between pgrep and the read
    }
  }, 0);
  return ticks / 100; // USER_HZ
}

interface Load {
  /** The path loaded, or a wrk Lua script choosing one per request. */
  path?: string;
  script?: string;
  connections: number;
  /** Body bytes per response when all are alike; otherwise wrk's transfer rate (bodies and headers) is used. */
  bodyBytes?: number;
}

function wrk(server: Server, load: Load, seconds: number): Result {
  const pid = server.proc.pid ?? 0;
  const cpuBefore = cpuSeconds(pid);
  const out = execFileSync(
    "wrk",
    [
      "-t1",
      `-c${load.connections}`,
      `-d${seconds}s`,
      "--timeout",
      "10s",
      "--latency",
      ...(load.script ? ["-s", load.script] : []),
      `${server.base}${load.path ?? "/"}`,
    ],
    { encoding: "utf8" },
  );
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
  const transfer = /Transfer\/sec:\s+([\d.]+)([KMG]?B)/.exec(out);
  const scale = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[transfer?.[2] ?? "B"] ?? Number.NaN;
  const bytesPerSec = Number(transfer?.[1] ?? Number.NaN) * scale;
  const p99 = /99%\s+(\S+)/.exec(out)?.[1] ?? "?";
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1];
  if (errors) throw new Error(`${server.base}: ${errors} error responses`);
  const socketErrors = /Socket errors: (.*)/.exec(out)?.[1];
  if (socketErrors) say(`  socket errors: ${socketErrors}`);
  const serverCpu = ((cpuSeconds(pid) - cpuBefore) / seconds) * 100;
  const rate = load.bodyBytes !== undefined ? rps * load.bodyBytes : bytesPerSec;
  return { requestsPerSec: rps, gbitPerSec: (rate * 8) / 1e9, p99, serverCpu };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

/** Loads relay and nginx in turn, `rounds` times after a warm-up; returns the medians. */
function compare(name: string, relay: Server, nginx: Server, load: Load) {
  wrk(relay, load, 3); // warm-up (JIT, TCP buffers, page cache)
  wrk(nginx, load, 3);
  const results: { relay: Result[]; nginx: Result[] } = { relay: [], nginx: [] };
  for (let round = 1; round <= rounds; round++) {
    for (const [who, server] of [
      ["relay", relay],
      ["nginx", nginx],
    ] as const) {
      const r = wrk(server, load, duration);
      results[who].push(r);
      say(
        `${name} round ${round}/${rounds} ${who.padEnd(5)} ${r.gbitPerSec.toFixed(2)} Gbit/s  ${r.requestsPerSec.toFixed(0)} req/s  p99 ${r.p99}  server CPU ${r.serverCpu.toFixed(0)}%`,
      );
    }
  }
  const m = (rs: Result[], f: (r: Result) => number) => median(rs.map(f));
  const out = {
    relayG: m(results.relay, (r) => r.gbitPerSec),
    nginxG: m(results.nginx, (r) => r.gbitPerSec),
    relayRps: m(results.relay, (r) => r.requestsPerSec),
    nginxRps: m(results.nginx, (r) => r.requestsPerSec),
    // Throughput per core of server CPU: what the server could do if the client were not the limit.
    relayE: m(results.relay, (r) => r.gbitPerSec / (r.serverCpu / 100)),
    nginxE: m(results.nginx, (r) => r.gbitPerSec / (r.serverCpu / 100)),
  };
  say(
    `${name} median: relay ${out.relayG.toFixed(2)} Gbit/s ${out.relayRps.toFixed(0)} req/s, nginx ${out.nginxG.toFixed(2)} Gbit/s ${out.nginxRps.toFixed(0)} req/s, ratio ${(out.relayG / out.nginxG).toFixed(2)}; per core ${out.relayE.toFixed(1)} vs ${out.nginxE.toFixed(1)} Gbit/s`,
  );
  return out;
}

/** GET over HTTP or HTTPS (trusting `ca`): the body of a 200. */
function get(url: string, ca?: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = (url.startsWith("https:") ? httpsGet : httpGet)(url, ca ? { ca } : {}, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        res.statusCode === 200
          ? resolve(Buffer.concat(chunks))
          : reject(new Error(`${url}: HTTP ${res.statusCode}`)),
      );
    });
    req.on("error", reject);
  });
}

async function checkSame(relay: Server, nginx: Server, path: string, cert?: Certificate): Promise<void> {
  const [a, b] = await Promise.all([relay, nginx].map((s) => get(`${s.base}${path}`, cert?.pem)));
  if (!a || !b || !a.equals(b)) throw new Error(`${path}: relay and nginx serve different bytes`);
}

const figures: Array<[string, number, string]> = [];
const servers: Server[] = [];
try {
  const size = Number(values.size);
  const connections = Number(values.connections);
  for (const workers of [1, 2]) {
    if (!cases.has(workers)) continue;
    const root = mkdtempSync(join(tmpdir(), "srp-bench-"));
    say(`case ${workers}: one ${size}-byte segment, ${connections} connections, ${workers} worker(s) each`);
    const cert = tls ? makeCertificate(root) : undefined;
    const relay = await startRelay(root, ["--size", String(size), "--workers", String(workers)], cert);
    servers.push(relay);
    const nginx = await startNginx(root, workers, cert);
    servers.push(nginx);
    const path = "/live/bench/seg-0.m4s";
    await checkSame(relay, nginx, path, cert);
    const r = compare(`${tls ? "tls-" : ""}w${workers}`, relay, nginx, {
      path,
      connections,
      bodyBytes: size,
    });
    const tag = workers === 1 ? "relay" : "relay2";
    const pre = tls ? "tls_" : "";
    figures.push(
      [`${pre}${tag}_gbit_s`, r.relayG, "Gbit/s"],
      [`${pre}nginx${workers === 1 ? "" : "2"}_gbit_s`, r.nginxG, "Gbit/s"],
      [`${pre}${workers === 1 ? "relay_vs_nginx" : "relay2_vs_nginx2"}`, r.relayG / r.nginxG, "ratio"],
      [
        `${pre}${workers === 1 ? "relay_vs_nginx_per_core" : "relay2_vs_nginx2_per_core"}`,
        r.relayE / r.nginxE,
        "ratio",
      ],
    );
    await relay.stop();
    await nginx.stop();
  }
  if (cases.has(3)) {
    const streams = Number(values.streams);
    const segs = Number(values["stream-segments"]);
    const many = Number(values["many-connections"]);
    const root = mkdtempSync(join(tmpdir(), "srp-bench-many-"));
    say(
      `case 3: ${streams} streams x ${segs} segments of ${values["many-size"]} bytes, playlists and segments mixed, ${many} connections, 2 workers each`,
    );
    const relay = await startRelay(root, [
      "--size",
      String(values["many-size"]),
      "--workers",
      "2",
      "--streams",
      String(streams),
      "--segments",
      String(segs),
    ]);
    servers.push(relay);
    const nginx = await startNginx(root, 2);
    servers.push(nginx);
    for (const path of ["/live/s0/index.m3u8", `/live/s${streams - 1}/seg-${segs - 1}.m4s`])
      await checkSame(relay, nginx, path);
    // One request in two a playlist, the other a segment; stream and segment at random (same seed for both servers).
    const script = join(root, "mixed.lua");
    writeFileSync(
      script,
      `math.randomseed(12)
request = function()
  local s = math.random(0, ${streams - 1})
  if math.random() < 0.5 then return wrk.format(nil, "/live/s" .. s .. "/index.m3u8") end
  return wrk.format(nil, "/live/s" .. s .. "/seg-" .. math.random(0, ${segs - 1}) .. ".m4s")
end
`,
    );
    const r = compare("many", relay, nginx, { script, connections: many });
    figures.push(
      ["many_streams_relay_req_s", r.relayRps, "req/s"],
      ["many_streams_nginx_req_s", r.nginxRps, "req/s"],
      ["many_streams_vs_nginx", r.relayRps / r.nginxRps, "ratio"],
      ["many_streams_vs_nginx_per_core", r.relayE / r.nginxE, "ratio"],
    );
  }
  // One machine-readable line per figure; a figure that could not be measured fails the run.
  for (const [name, value, unit] of figures) console.log(`RESULT ${name} ${value.toFixed(3)} ${unit}`);
  if (figures.length === 0 || figures.some(([, value]) => !Number.isFinite(value) || value <= 0))
    process.exitCode = 1;
} finally {
  await Promise.all(servers.map((s) => s.stop()));
}
