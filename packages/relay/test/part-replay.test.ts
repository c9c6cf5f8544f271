import type { PartAttestation } from "@streamrp2p/protocol";
import { type NodeInfo, SrpError } from "@streamrp2p/protocol";
import { MAX_PART_SIGNATURES_PER_WINDOW, type Relay, type UpstreamResolver } from "@streamrp2p/relay";
import { afterEach, describe, expect, it } from "vitest";
import { newAccount, putObject, signedObject, startStaticRelay } from "../../../test/support/fixtures.ts";
import { putPart, signedPart, signedPartedSegment } from "../../../test/support/ll-fixtures.ts";
import { LyingRelay } from "../../../test/support/lying-relay.ts";
import { waitUntil } from "../../../test/support/tools.ts";

const streamer = newAccount();
const PARTS = 4;
/** Old genuine part attestations the attacker adds to every window answer (the schema allows 512 parts). */
const REPLAYED = 480;

async function announcements(relay: Relay, result: string): Promise<number> {
  const { values } = await relay.metrics.partAnnouncements.get();
  return values.find((v) => v.labels.result === result)?.value ?? 0;
}

/**
 * Review finding (MEDIUM): an upstream replaying hundreds of old, genuinely
 * signed part attestations in every window answer made the child recover a
 * signature for each before any cheap check: about a second of blocked event
 * loop per answer. The attacker is a real HTTP server in front of an honest
 * ingest relay that appends the replay to every `window.json` it passes on.
 */
describe("attack: an upstream replays old genuine part attestations in its window answers", () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it("the child skips them before any signature check, bounds the checks per answer and keeps pulling parts", async () => {
    const a = await startStaticRelay({ demo: streamer.address });
    cleanup.push(() => a.stop());
    await putObject(a.url, "demo", await signedObject(streamer, "demo", "init", 0, 500));
    const push = async (seq: number) => {
      const cut = await signedPartedSegment(streamer, "demo", seq, PARTS);
      for (const p of cut.parts) expect((await putPart(a.url, "demo", p)).status).toBe(201);
      expect((await putObject(a.url, "demo", cut.segment)).status).toBe(201);
    };
    for (let seq = 0; seq < 10; seq++) await push(seq);

    const replay: PartAttestation[] = [];
    for (let i = 0; i < REPLAYED; i++) replay.push((await signedPart(streamer, "demo", i % 8, i % 60)).att);
    let answers = 0;
    const liar = new LyingRelay(a.url, (path, honest) => {
      if (!path.includes("window.json") || honest.status !== 200) return honest;
      answers += 1;
      const win = JSON.parse(honest.body.toString()) as { parts?: PartAttestation[] };
      const parts = [...replay, ...(win.parts ?? [])].slice(-512);
      return { ...honest, body: Buffer.from(JSON.stringify({ ...win, parts })) };
    });
    await liar.start();
    cleanup.push(() => liar.stop());
    const upstream: NodeInfo = { nodeId: `0x${"1".padStart(40, "0")}`, url: liar.url, region: "local" };
    const resolver: UpstreamResolver = {
      async resolve(_streamId, exclude) {
        if (exclude.includes(upstream.nodeId)) throw new SrpError("NO_UPSTREAM", "none left");
        return upstream;
      },
    };
    const b = await startStaticRelay({ demo: streamer.address }, { ingest: false }, resolver);
    cleanup.push(() => b.stop());
    b.carry(["demo"]);
    await waitUntil("B holds segment 9", () => b.stream("demo")?.getSegment(9)?.isComplete || undefined);
    for (let seq = 10; seq < 15; seq++) {
      await push(seq);
      await waitUntil(
        `B holds segment ${seq}`,
        () => b.stream("demo")?.getSegment(seq)?.isComplete || undefined,
      );
    }
    // LL-HLS still flows: the newest segment's parts came through the window, as announced.
    await waitUntil(
      "B lists segment 14's parts",
      () => b.stream("demo")?.listedParts(14).length === PARTS || undefined,
    );

    const verified = await announcements(b, "verified");
    const skipped = await announcements(b, "skipped");
    expect(answers).toBeGreaterThanOrEqual(6);
    // Only the first answer (B's edge unknown yet) may spend its budget on the replay; after that
    // every replayed attestation is dropped by the cheap checks, and only genuinely new parts cost a
    // signature (15 segments of 4 parts).
    expect(verified).toBeLessThanOrEqual(MAX_PART_SIGNATURES_PER_WINDOW + 15 * PARTS);
    expect(skipped).toBeGreaterThanOrEqual(REPLAYED * (answers - 2));
    expect(b.stream("demo")?.source).toBe(upstream.nodeId); // nothing to fail over for: the parts were genuine
  });
});
