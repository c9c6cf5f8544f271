import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { tempDir, waitUntil } from "./tools.ts";

const CLI = "packages/cli/bin/streamrp2p.js";
const KEEP_OUTPUT_CHARS = 64 * 1024; // chars of a process's output kept for failure messages

/** One service started through the CLI as its own OS process. */
export interface ServiceProcess {
  name: string;
  proc: ChildProcess;
  pid: number;
  /** Base URL it printed, e.g. http://127.0.0.1:41234 */
  url: string;
  /** The exit code or signal, once it exited. */
  exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** The tail of its stdout and stderr, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Spawns `streamrp2p <args>` and waits until its stdout matches `urlPattern`
 * (first group: the base URL). Fails with the process's output otherwise.
 */
export async function startCli(
  name: string,
  args: string[],
  urlPattern: RegExp,
  timeoutMs = 30_000,
): Promise<ServiceProcess> {
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-KEEP_OUTPUT_CHARS);
  };
  proc.stdout?.on("data", keep);
  proc.stderr?.on("data", keep);
  const service: ServiceProcess = {
    name,
    proc,
    pid: proc.pid ?? -1,
    url: "",
    exited: undefined,
    output: () => out,
    stop: async () => {
      if (service.exited) return;
      const gone = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
      proc.kill("SIGKILL");
      await gone;
    },
  };
  proc.once("exit", (code, signal) => {
    service.exited = { code, signal };
  });
  const exited = new Promise<never>((_resolve, reject) =>
    proc.once("exit", (code, signal) =>
      reject(new Error(`${name} exited (${code ?? signal}) before it served`)),
    ),
  );
  exited.catch(() => {}); // only raced below; later exits are reported through `exited`
  try {
    service.url = await Promise.race([
      waitUntil(`${name} to print its URL`, () => urlPattern.exec(out)?.[1], timeoutMs, 50),
      exited,
    ]);
  } catch (err) {
    await service.stop();
    throw new Error(`${String(err)}\n${name} output:\n${out}`);
  }
  return service;
}

/** Resident set size of a process, in KiB, from /proc/<pid>/status. */
export function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m?.[1]) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

export interface ProcessNetwork {
  coordinator: ServiceProcess;
  relay: ServiceProcess;
  origin: ServiceProcess;
  /** The stream the origin registered (its signing key is in `keyDir`). */
  streamId: string;
  keyDir: string;
  all(): ServiceProcess[];
  stop(): Promise<void>;
}

/** `streamrp2p coordinator` on a free port, its data under `dir`. */
export function startCoordinatorProcess(dir: string, extra: string[] = []): Promise<ServiceProcess> {
  return startCli(
    "coordinator",
    ["coordinator", "--port", "0", "--data-dir", join(dir, "coordinator"), ...extra],
    /coordinator at (http:\/\/[0-9.:]+)/,
  );
}

/** `streamrp2p relay` named `name` (its data under `dir/name`) on a free port; `--ingest` when asked. */
export function startRelayProcess(
  name: string,
  coordinatorUrl: string,
  dir: string,
  options: { ingest?: boolean; args?: string[] } = {},
): Promise<ServiceProcess> {
  return startCli(
    name,
    [
      "relay",
      "--coordinator",
      coordinatorUrl,
      "--port",
      "0",
      ...(options.ingest ? ["--ingest"] : []),
      "--data-dir",
      join(dir, name),
      "--log-level",
      "warn",
      ...(options.args ?? []),
    ],
    /serving at (http:\/\/[^\s;]+)[\s;]/,
  );
}

/**
 * `streamrp2p origin` for `streamId`, keys and broadcast state under `keyDir`;
 * its URL is the RTMP publish URL without the key (`rtmp://127.0.0.1:PORT/live`).
 */
export function startOriginProcess(
  coordinatorUrl: string,
  streamId: string,
  keyDir: string,
  rtmpPort = 0,
  /** More flags (e.g. `--ladder …`). */
  extra: string[] = [],
): Promise<ServiceProcess> {
  return startCli(
    "origin",
    [
      "origin",
      "--coordinator",
      coordinatorUrl,
      "--stream",
      streamId,
      "--rtmp-port",
      String(rtmpPort),
      "--http-port",
      "0",
      "--key-dir",
      keyDir,
      ...extra,
    ],
    /publish with OBS: server (rtmp:\/\/\S+) /,
  );
}

/** The origin's health URL, from what it printed. */
export function originHealthUrl(origin: ServiceProcess): string {
  const url = /origin health and metrics at (http:\/\/[0-9.:]+)/.exec(origin.output())?.[1];
  if (!url) throw new Error(`origin printed no health URL:\n${origin.output()}`);
  return url;
}

/**
 * Coordinator, one ingest relay and one origin, each its own process on
 * 127.0.0.1 with free ports. `relayArgs` are extra relay flags (limits).
 */
export async function startProcessNetwork(name: string, relayArgs: string[] = []): Promise<ProcessNetwork> {
  const dir = tempDir(name);
  const started: ServiceProcess[] = [];
  const stopAll = async () => {
    await Promise.all(started.map((s) => s.stop()));
  };
  try {
    const coordinator = await startCoordinatorProcess(dir);
    started.push(coordinator);
    const streamId = "fuzz";
    const keyDir = join(dir, "origin");
    const origin = await startOriginProcess(coordinator.url, streamId, keyDir);
    started.push(origin);
    origin.url = originHealthUrl(origin); // callers reach its HTTP surface (health, metrics) here
    const relay = await startRelayProcess("relay", coordinator.url, dir, { ingest: true, args: relayArgs });
    started.push(relay);
    return {
      coordinator,
      relay,
      origin,
      streamId,
      keyDir,
      all: () => [coordinator, relay, origin],
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/**
 * A raw request with the target exactly as given: fetch() would normalise or
 * refuse a malformed target before it left the client.
 */
export function rawGet(base: string, target: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path: target, method: "GET", agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        body += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}
