import { computeEpoch, EPOCH_PARAMS, SqliteStore } from "@streamrp2p/coordinator";
import { MAX_RUNG_TO_SOURCE } from "@streamrp2p/protocol";
import { describe, expect, it } from "vitest";
import { tempDir } from "../../../test/support/tools.ts";

const SEG = 100_000; // bytes of one source segment (1 s)
const EPOCH_MS = 60_000;

/**
 * Review of issue 15 (ABR): the plausibility yardstick is, per segment
 * number, the largest rung the origin attested. Rung sizes are the
 * streamer's to sign, and nothing bounds a rung against the source or the
 * ladder: one rung nobody honest watches inflates what a session may claim.
 */
describe("ABR credit yardstick: a streamer's oversized rung", () => {
  it("attack: a rung 50x the source that only a colluding viewer fetches does not buy that viewer 50 viewers' share of the pool", async () => {
    const store = new SqliteStore(tempDir("yardstick"));
    await store.migrate();
    const startsAt = 10 * EPOCH_MS;
    const endsAt = startsAt + EPOCH_MS;
    // 60 segments of the source (SEG), a real 360p rung (SEG/4), and a "rung" of 50 x SEG,
    // each signed by the streamer, pushed to an ingest relay and recorded like any rung.
    const rungs: Array<[string, number]> = [
      ["main", SEG],
      ["360p", SEG / 4],
      ["huge", 50 * SEG],
    ];
    await store.accounting.upsertSegments(
      rungs.flatMap(([rendition, byteLength]) =>
        Array.from({ length: 60 }, (_, i) => ({
          streamId: "show",
          rendition,
          seq: i,
          byteLength,
          durationMs: 1000,
          producedAt: startsAt + i * 1000,
        })),
      ),
    );
    const segments = await store.accounting.segmentsBetween("show", startsAt - 30_000, endsAt);
    // Three honest viewers on the source, each from its own subnet, each served by an honest
    // node; one colluding viewer (the streamer's) signs for the huge rung, served by its node.
    const viewers = [
      { id: "honest-1", subnet: "10.0.1.0/24", node: "0xhonest", bytes: 60 * SEG },
      { id: "honest-2", subnet: "10.0.2.0/24", node: "0xhonest", bytes: 60 * SEG },
      { id: "honest-3", subnet: "10.0.3.0/24", node: "0xhonest", bytes: 60 * SEG },
      { id: "colluder", subnet: "10.0.4.0/24", node: "0xcolluder", bytes: 60 * 50 * SEG },
    ];
    const out = computeEpoch({
      epoch: 10,
      startsAt,
      endsAt,
      receipts: viewers.map((v) => ({
        sessionId: v.id,
        nodeId: v.node,
        streamId: "show",
        bytes: v.bytes,
        segments: 60,
        lastSeq: 59,
        issuedAt: endsAt - 1,
        json: "{}",
      })),
      sessions: new Map(
        viewers.map((v) => [
          v.id,
          {
            sessionId: v.id,
            streamId: "show",
            viewerKey: null,
            clientAddr: v.subnet.replace("0/24", "7"),
            subnet: v.subnet,
            site: v.subnet,
            issuedAt: startsAt,
            expiresAt: endsAt + EPOCH_MS,
            isProbe: false,
          },
        ]),
      ),
      creditedSoFar: new Map(),
      segments: new Map([["show", segments]]),
      maxInitBytes: new Map(),
      quality: new Map(),
      params: EPOCH_PARAMS,
    });
    const credited = (node: string) =>
      out.credits.filter((c) => c.nodeId === node).reduce((n, c) => n + c.creditedBytes, 0);
    const colluderShare = credited("0xcolluder") / (credited("0xcolluder") + credited("0xhonest"));
    // One viewer of four: without a ladder it could claim no more than the source (a quarter).
    // Unbounded, the 50x rung took 50 / 53 of the pool from the honest node; a rung now counts
    // for at most MAX_RUNG_TO_SOURCE sources: k / (3 + k).
    expect(colluderShare).toBeLessThanOrEqual(MAX_RUNG_TO_SOURCE / (3 + MAX_RUNG_TO_SOURCE) + 1e-9);
    expect(colluderShare).toBeGreaterThan(0.25); // the slack honest viewers of a high rung get
  });
});
