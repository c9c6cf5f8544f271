import { join } from "node:path";
import { generateEd25519, type Ticket } from "@streamrp2p/protocol";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signedObject } from "../../../test/support/fixtures.ts";
import { AccountingHarness, EPOCH_MS, SEG } from "./support/accounting-harness.ts";

/** Rows per accounting table, read from the coordinator's own SQLite file. */
interface RowCounts {
  sessions: number;
  receipts: number;
  credits: number;
  segments: number;
  probes: number;
  epochs: number;
}

function rowCounts(dbDir: string): RowCounts {
  const db = new Database(join(dbDir, "coordinator.sqlite"), { readonly: true });
  try {
    const count = (table: string, where = "1=1") =>
      (db.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${where}`).get() as { n: number }).n;
    return {
      sessions: count("sessions"),
      receipts: count("receipts"),
      credits: count("credits"),
      segments: count("segments", "rendition = 'main'"),
      probes: count("probes"),
      epochs: count("epochs"),
    };
  } finally {
    db.close();
  }
}

describe("attack: unbounded coordinator state (issue 10, finding 3)", () => {
  describe("epochs", () => {
    const TTL = 2 * EPOCH_MS;
    const GRACE = 10_000;
    const h = new AccountingHarness();
    beforeAll(() => h.start({ ticketTtlMs: TTL, ticketGraceMs: GRACE }));
    afterAll(() => h.stop());

    it("prunes sessions, receipts, credits, old segments and probes closed epochs no longer need; closed epochs still read the same", async () => {
      // 40 sessions with receipts, 60 ledger segments, and old probes.
      await h.produce(60);
      h.t += 30_000;
      const viewers = await Promise.all(
        Array.from({ length: 40 }, (_, i) => h.viewer("show", `127.0.${i}.1`)),
      );
      for (const v of viewers)
        expect(await h.submit([{ ticket: v.ticket, receipt: await h.receipt(v) }])).toEqual(["stored"]);
      await h.store.accounting.insertProbe({
        nodeId: h.nodeId,
        streamId: "show",
        at: h.t,
        ok: true,
        ttfbMs: 5,
        throughputBps: 1e6,
        edgeLag: 0,
        error: null,
        via: null,
      });
      const first = await h.closeEpoch();
      expect(first.credits[0]?.creditedBytes).toBe(40 * SEG);
      const before = rowCounts(h.dbDir);
      expect(before).toMatchObject({ sessions: 40, receipts: 40, credits: 40, segments: 60, probes: 1 });

      // Long after the tickets expired (TTL + grace + the window's epoch of margin), epochs close as usual.
      for (let i = 0; i < 5; i++) await h.closeEpoch();
      const after = rowCounts(h.dbDir);
      expect(after).toMatchObject({ sessions: 0, receipts: 0, credits: 0, segments: 0 });
      // Probes reach back 8 reputation half-lives (1 h by default): still within it, so kept.
      expect(after.probes).toBe(1);
      expect(after.epochs).toBe(before.epochs + 5);
      // What GET /v1/epochs/:n shows for the closed epoch is unchanged.
      const again = await (await fetch(`${h.coordinator.url}/v1/epochs/${first.epoch}`)).json();
      expect(again).toEqual(first);
    });

    it("closes an epoch from its window only: a new session's epoch reads only live sessions", async () => {
      await h.produce(20);
      h.t += 20_000;
      const v = await h.viewer("show", "127.0.99.1");
      await h.submit([{ ticket: v.ticket, receipt: await h.receipt(v) }]);
      const epoch = await h.closeEpoch();
      const inputs = epoch.inputs as unknown as {
        sessions: unknown[];
        creditedBefore: Record<string, number>;
      };
      expect(inputs.sessions).toHaveLength(1);
      expect(Object.keys(inputs.creditedBefore)).toHaveLength(0);
      expect(epoch.credits[0]?.creditedBytes).toBe(SEG);
    });
  });

  describe("tamper evidence", () => {
    const h = new AccountingHarness();
    beforeAll(() => h.start({}, ["show", "other"]));
    afterAll(() => h.stop());

    async function evidence(seq: number) {
      const o = await signedObject(h.streamer, "show", "segment", seq, 1_000);
      return {
        streamId: "show",
        nodeId: h.nodeId,
        attestation: o.att,
        servedSha256: `0x${"ee".repeat(32)}`,
        servedBytes: 1_000,
        nodeSignature: null,
      };
    }
    const stored = async () => (await h.store.listEvidence(h.nodeId, 1_000)).length;
    const code = (r: { body: unknown }) => (r.body as { error?: { code: string } }).error?.code;

    it("refuses reports without a valid ticket of that stream, stores none of them", async () => {
      const e = await evidence(1);
      const honest = await h.viewer("show", "127.0.10.1");
      const noTicket = await h.post("/v1/evidence", e, "127.0.10.2");
      expect([noTicket.status, code(noTicket)]).toEqual([400, "VALIDATION_FAILED"]);
      const attacker = await generateEd25519();
      const forged: Ticket = { ...honest.ticket, sessionId: "cd".repeat(16), viewerKey: attacker.publicKey };
      const bad = await h.post("/v1/evidence", { ...e, ticket: forged }, "127.0.10.3");
      expect([bad.status, code(bad)]).toEqual([403, "BAD_SIGNATURE"]);
      const otherStream = await h.viewer("other", "127.0.10.4");
      const wrong = await h.post("/v1/evidence", { ...e, ticket: otherStream.ticket }, "127.0.10.4");
      expect([wrong.status, code(wrong)]).toEqual([400, "VALIDATION_FAILED"]);
      const old = await h.viewer("show", "127.0.10.5");
      h.t += 3 * 60 * 60_000; // past the 2 h ticket
      const expired = await h.post("/v1/evidence", { ...e, ticket: old.ticket }, "127.0.10.5");
      expect([expired.status, code(expired)]).toEqual([401, "TICKET_EXPIRED"]);
      expect(await stored()).toBe(0);
    });

    it("takes a viewer's report, then rate-limits per session and per subnet", async () => {
      const v = await h.viewer("show", "127.0.20.1");
      const statuses: number[] = [];
      for (let seq = 10; seq < 17; seq++)
        statuses.push(
          (await h.post("/v1/evidence", { ...(await evidence(seq)), ticket: v.ticket }, "127.0.20.1")).status,
        );
      expect(statuses).toEqual([201, 201, 201, 201, 201, 429, 429]);
      expect(await stored()).toBe(5);
      // One subnet's reports share its budget (20), whatever sessions they name: past it,
      // garbage is refused before any signature work (429, not 403).
      const e = await evidence(50);
      const garbage: Ticket = { ...v.ticket, sessionId: "ef".repeat(16) };
      const sub: number[] = [];
      for (let i = 0; i < 22; i++)
        sub.push((await h.post("/v1/evidence", { ...e, ticket: garbage }, `127.0.30.${i + 1}`)).status);
      expect(sub).toEqual([...Array<number>(20).fill(403), 429, 429]);
      expect(await stored()).toBe(5);
    });
  });
});

describe("in-memory limiter state", () => {
  it("stays bounded however many distinct keys (IPv6 /64s, sessions) an attacker uses", async () => {
    const { RateLimiter } = await import("../src/rate-limiter.ts");
    let t = 0;
    const limiter = new RateLimiter(2, 1 / 60_000, () => t, 1_000);
    for (let i = 0; i < 50_000; i++) {
      t += 1;
      limiter.take(`key-${i}`);
      limiter.take(`key-${i}`); // drained: not a bucket the sweep can drop for free
    }
    expect(limiter.size).toBeLessThanOrEqual(1_000);
    // A key still in use keeps its (drained) bucket.
    expect(limiter.take("key-49999")).toBe(false);
  });
});
