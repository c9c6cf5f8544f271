import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { parseMediaPlaylist } from "@streamrp2p/protocol";
import { afterAll, describe, expect, it } from "vitest";
import { requireFfmpeg, tempDir, waitUntil } from "../support/tools.ts";

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** True if `port` can be listened on now. */
function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer()
      .once("error", () => resolve(false))
      .listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

/**
 * A base port with `count` free ports from it, below the ephemeral range
 * (32768+), where outgoing connections of other tests could take one.
 */
async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    let free = true;
    for (let i = 0; i < count && free; i++) free = await bindable(base + i);
    if (free) return base;
  }
  throw new Error(`no ${count} free ports in a row below 32768`);
}

/** Processes whose command line mentions `marker` (our data dir), so leftovers are found. */
function processesMentioning(marker: string): string[] {
  const out = spawnSync("ps", ["-eo", "pid,args"], { encoding: "utf8" }).stdout;
  return out.split("\n").filter((l) => l.includes(marker) && !l.includes("ps -eo"));
}

describe("`streamrp2p up --test-source` as a user runs it", () => {
  let up: ChildProcess | undefined;
  afterAll(() => {
    up?.kill("SIGKILL");
  });

  it("starts the network, serves an advancing playlist on the pulling relay, and stops cleanly on Ctrl-C", async () => {
    requireFfmpeg();
    const dataDir = join(tempDir("cli-up"), "data");
    const [rtmp, coordinator] = [await freePort(), await freePort()];
    // Relay ports are base..base+2: all three free, and out of the ephemeral range.
    const base = await freePortRange(3);
    up = spawn(
      process.execPath,
      [
        "packages/cli/bin/streamrp2p.js",
        "up",
        "--test-source",
        "--data-dir",
        dataDir,
        "--rtmp-port",
        String(rtmp),
        "--coordinator-port",
        String(coordinator),
        "--relay-port-base",
        String(base),
        "--origin-http-port",
        "0",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    up.stdout?.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    let stderr = "";
    up.stderr?.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const exited = new Promise<number | null>((resolve) => up?.once("exit", (code) => resolve(code)));
    const started = Date.now();
    const url = `http://127.0.0.1:${base + 2}/live/demo/index.m3u8`;
    const first = await waitUntil(
      "playlist on the pulling relay",
      async () => {
        const res = await fetch(url);
        return res.status === 200 ? parseMediaPlaylist(await res.text()) : undefined;
      },
      15_000,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\nup printed:\n${stdout.slice(-4000)}\nstderr:\n${stderr}`);
    });
    expect(Date.now() - started).toBeLessThan(15_000);
    const firstLast = first.segments.at(-1)?.mediaSequence ?? -1;
    await waitUntil("playlist advances", async () => {
      const p = parseMediaPlaylist(await (await fetch(url)).text());
      return (p.segments.at(-1)?.mediaSequence ?? -1) > firstLast || undefined;
    });
    expect(stdout).toContain(`rtmp://127.0.0.1:${rtmp}/live`);
    expect(stdout).toContain(url);
    expect(stdout).toMatch(/stream key sk_/);

    up.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(stdout).toContain("stopped");
    // No process is left behind: not the CLI, not the test source (its URL holds the stream key).
    const streamKey = readFileSync(join(dataDir, "demo.stream-key"), "utf8").trim();
    expect(processesMentioning(dataDir)).toEqual([]);
    expect(processesMentioning(streamKey)).toEqual([]);

    await expect(fetch(url)).rejects.toThrow(); // nothing listens any more
  });
});
