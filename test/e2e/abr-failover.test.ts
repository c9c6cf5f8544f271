import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startTestSource } from "@streamrp2p/cli";
import { afterEach, describe, expect, it } from "vitest";
import {
  originHealthUrl,
  type ServiceProcess,
  startCoordinatorProcess,
  startOriginProcess,
  startRelayProcess,
} from "../support/processes.ts";
import { treeNodes } from "../support/relay-tree.ts";
import { requireFfmpeg, tempDir, waitUntil } from "../support/tools.ts";

const STREAM = "abr";
const RUNG = "120p";

/** The newest segment a relay's window of `path` (the source, or a rung) holds; -1 when none. */
async function edgeOf(url: string, path: string): Promise<number> {
  const res = await fetch(`${url}/live/${path}/window.json`, { signal: AbortSignal.timeout(2_000) });
  if (res.status !== 200) return -1;
  const win = (await res.json()) as { segments: Array<{ attestation: { seq: number } }> };
  return Math.max(-1, ...win.segments.map((s) => s.attestation.seq));
}

/**
 * A rung flows down the tree like the source and follows it when the relay
 * feeding it fails: every party its own process (coordinator, 2 ingest
 * relays, an origin transcoding a 120-line rung, a pulling relay); the
 * pulling relay's upstream is stopped cleanly, killed (kill -9) or frozen
 * (SIGSTOP), and the rung's window there must keep advancing.
 */
describe("ABR failover: a pulling relay's rung survives its upstream's death (processes)", () => {
  const started: ServiceProcess[] = [];
  let source: ReturnType<typeof startTestSource> | undefined;
  afterEach(async () => {
    source?.kill("SIGKILL");
    for (const p of started) if (!p.exited) p.proc.kill("SIGCONT");
    await Promise.all(started.splice(0).map((p) => p.stop()));
  });

  for (const signal of ["SIGTERM", "SIGKILL", "SIGSTOP"] as const) {
    it(`${signal}: the rung keeps advancing on the pulling relay`, async () => {
      requireFfmpeg();
      const dir = tempDir(`abr-failover-${signal}`);
      const coordinator = await startCoordinatorProcess(dir, ["--min-relays-per-stream", "3"]);
      started.push(coordinator);
      const args = ["--heartbeat-interval-ms", "1000"];
      const ingest = await Promise.all(
        [0, 1].map((i) => startRelayProcess(`ingest-${i}`, coordinator.url, dir, { ingest: true, args })),
      );
      started.push(...ingest);
      const keyDir = join(dir, "origin");
      const origin = await startOriginProcess(coordinator.url, STREAM, keyDir, 0, [
        "--ladder",
        `source,${RUNG}:120:120:32`,
      ]);
      started.push(origin);
      expect(origin.output()).toContain(`ladder: source (passthrough), ${RUNG} (120p, 120+32 kbit/s)`);
      const rtmp = origin.url;
      origin.url = originHealthUrl(origin);
      const streamKey = readFileSync(join(keyDir, `${STREAM}.stream-key`), "utf8").trim();
      source = startTestSource({ url: `${rtmp}/${streamKey}`, width: 320, height: 240, fps: 15 });
      const pull = await startRelayProcess("pull", coordinator.url, dir, { args });
      started.push(pull);
      const pullId = /relay (0x[0-9a-fA-F]{40})/.exec(pull.output())?.[1]?.toLowerCase();
      await waitUntil(
        "the rung on the pulling relay",
        async () => ((await edgeOf(pull.url, `${STREAM}/${RUNG}`)) >= 3 ? true : undefined),
        40_000,
      );
      const upstream = await waitUntil("the pulling relay's upstream", async () => {
        const node = (await treeNodes(coordinator.url, STREAM)).get(pullId ?? "");
        return node?.upstream ?? undefined;
      });
      const victim = ingest.find((p) => p.output().toLowerCase().includes(upstream));
      if (!victim) throw new Error(`upstream ${upstream} is not an ingest relay`);
      const before = await edgeOf(pull.url, `${STREAM}/${RUNG}`);
      victim.proc.kill(signal);
      const after = await waitUntil(
        "the rung advancing 4 segments past the failure",
        async () => {
          const e = await edgeOf(pull.url, `${STREAM}/${RUNG}`);
          return e >= before + 4 ? e : undefined;
        },
        25_000,
      );
      // Whole segments, from the other ingest relay: bytes served match the attested length.
      const seg = await fetch(`${pull.url}/live/${STREAM}/${RUNG}/seg-${after}.m4s`);
      expect(seg.status).toBe(200);
      expect((await seg.arrayBuffer()).byteLength).toBeGreaterThan(0);
      const sourceEdge = await edgeOf(pull.url, STREAM);
      expect(Math.abs(sourceEdge - after)).toBeLessThanOrEqual(2); // the rung keeps pace with the source
      process.stdout.write(
        `[abr-failover ${signal}] rung edge ${before} -> ${after}, source ${sourceEdge}\n`,
      );
    }, 120_000);
  }
});
