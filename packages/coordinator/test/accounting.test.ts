import { join } from "node:path";
import { CoordinatorClient } from "@streamrp2p/api-client";
import { type Coordinator, createCoordinator, SqliteStore } from "@streamrp2p/coordinator";
import {
  generateEd25519,
  type Receipt,
  signNodeRegistration,
  signReceipt,
  signStreamRegistration,
  type Ticket,
} from "@streamrp2p/protocol";
import { silentLogger } from "@streamrp2p/service";
import type { LocalAccount } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newAccount } from "../../../test/support/fixtures.ts";
import { tempDir } from "../../../test/support/tools.ts";

const EPOCH_MS = 60_000;
const SEG = 100_000; // bytes per attested segment in the ledger

describe("proof of restreaming: adversarial receipts and caps", () => {
  let coordinator: Coordinator;
  let client: CoordinatorClient;
  let store: SqliteStore;
  let t = Math.ceil(Date.now() / EPOCH_MS) * EPOCH_MS + 1_000; // just after an epoch boundary
  const streamer = newAccount();
  let node: LocalAccount;
  let token: string;
  const other = newAccount();

  beforeAll(async () => {
    const dir = join(tempDir("accounting"), "db");
    store = new SqliteStore(dir);
    coordinator = createCoordinator(
      {
        port: 0,
        dataDir: dir,
        epochMs: EPOCH_MS,
        probeIntervalMs: 0,
        recordIntervalMs: 0,
        ticketBurst: 100,
        ticketsPerMinute: 100,
      },
      { store, log: silentLogger, now: () => t },
    );
    await coordinator.start();
    client = new CoordinatorClient({ baseUrl: coordinator.url });
    await client.registerStream(await signStreamRegistration(streamer, "show", Date.now()));
    node = newAccount();
    const reg = await signNodeRegistration(node, {
      url: "http://127.0.0.1:9",
      region: "local",
      capacityMbps: 100,
      ingest: false,
      streams: [],
      issuedAt: Date.now(),
    });
    token = (await client.registerNode(reg)).token;
    // The ledger: 30 segments of SEG bytes, one a second, from 20 s before now.
    await store.accounting.upsertSegments(
      Array.from({ length: 30 }, (_, i) => ({
        streamId: "show",
        rendition: "main",
        seq: i,
        byteLength: SEG,
        durationMs: 1000,
        producedAt: t - 20_000 + i * 1000,
      })),
    );
  });
  afterAll(() => coordinator.stop());

  async function session(): Promise<{ ticket: Ticket; key: CryptoKey }> {
    const viewer = await generateEd25519();
    const res = await fetch(`${coordinator.url}/v1/streams/show/sessions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ viewerKey: viewer.publicKey }),
    });
    expect(res.status).toBe(201);
    return { ticket: ((await res.json()) as { ticket: Ticket }).ticket, key: viewer.privateKey };
  }

  async function receipt(
    s: { ticket: Ticket; key: CryptoKey },
    fields: Partial<Omit<Receipt, "signature">>,
  ): Promise<Receipt> {
    t += 10;
    return signReceipt(s.key, {
      sessionId: s.ticket.sessionId,
      nodeId: node.address.toLowerCase() as `0x${string}`,
      streamId: "show",
      bytes: SEG,
      segments: 1,
      lastSeq: 1,
      issuedAt: t,
      ...fields,
    });
  }

  async function submit(items: Array<{ ticket: Ticket; receipt: Receipt }>, as = node.address.toLowerCase()) {
    const { results } = await client.submitReceipts(token, {
      nodeId: as as `0x${string}`,
      submissions: items,
    });
    return results.map((r) => r.outcome);
  }

  it("refuses a forged receipt signature, a receipt for another node, and a replay; keeps the valid ones", async () => {
    const s = await session();
    const good = await receipt(s, { bytes: 2 * SEG, segments: 2, lastSeq: 2 });
    const forged = { ...(await receipt(s, { bytes: 3 * SEG, segments: 3, lastSeq: 3 })), bytes: 9 * SEG };
    const foreign = await receipt(s, { nodeId: other.address.toLowerCase() as `0x${string}` });
    expect(
      await submit([
        { ticket: s.ticket, receipt: good },
        { ticket: s.ticket, receipt: forged },
        { ticket: s.ticket, receipt: foreign },
      ]),
    ).toEqual(["stored", "BAD_SIGNATURE", "FOREIGN_RECEIPT"]);
    const newer = await receipt(s, { bytes: 4 * SEG, segments: 4, lastSeq: 4 });
    expect(await submit([{ ticket: s.ticket, receipt: newer }])).toEqual(["stored"]);
    expect(await submit([{ ticket: s.ticket, receipt: good }])).toEqual(["NOT_MONOTONIC"]); // the old one, replayed
    expect(await submit([{ ticket: s.ticket, receipt: newer }])).toEqual(["unchanged"]);
    expect((await store.accounting.getReceipt(s.ticket.sessionId, node.address.toLowerCase()))?.bytes).toBe(
      4 * SEG,
    );
  });

  it("refuses a batch submitted for another node, and a ticket this coordinator never issued", async () => {
    const s = await session();
    const r = await receipt(s, {});
    const res = await fetch(`${coordinator.url}/v1/nodes/${node.address.toLowerCase()}/receipts`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({
        nodeId: other.address.toLowerCase(),
        submissions: [{ ticket: s.ticket, receipt: r }],
      }),
    });
    expect(res.status).toBe(403);
    const rogue = await generateEd25519();
    const { signTicket } = await import("@streamrp2p/protocol");
    const fake = await signTicket(rogue.privateKey, { ...s.ticket, sessionId: "77".repeat(16) });
    expect(
      await submit([{ ticket: fake, receipt: await receipt(s, { sessionId: fake.sessionId }) }]),
    ).toEqual(["BAD_SIGNATURE"]);
  });

  it("caps credit at what the stream produced: inflated bytes and extra segments are cut to the attested", async () => {
    // Session lifetime covers ledger segments produced from (issuedAt - 30 s) to the receipt: 21 segments here.
    const inflated = await session();
    const greedy = await session();
    // What the stream produced in a session's life: its lookback (30 s) before the ticket, up to the receipt.
    const producedFor = async (x: { ticket: Ticket }, at: number) =>
      (await store.accounting.segmentsBetween("show", x.ticket.issuedAt - 30_000, at)).length;
    const r1 = await receipt(inflated, { bytes: 100 * SEG, segments: 5, lastSeq: 5 });
    const produced = await producedFor(inflated, r1.issuedAt);
    expect(produced).toBeGreaterThan(10);
    const r2 = await receipt(greedy, { bytes: 10 * SEG, segments: 2 * produced, lastSeq: 29 });
    expect(await producedFor(greedy, r2.issuedAt)).toBe(produced);
    await submit([{ ticket: inflated.ticket, receipt: r1 }]);
    await submit([{ ticket: greedy.ticket, receipt: r2 }]);
    t += EPOCH_MS;
    const closed = await coordinator.accounting.closeDueEpochs();
    expect(closed.length).toBeGreaterThanOrEqual(1);
    const epoch = (await (await fetch(`${coordinator.url}/v1/epochs/${closed.at(-1)}`)).json()) as {
      inputs: { sessionChecks: Array<{ sessionId: string; factor: number; plausibleBytes: number }> };
      credits: Array<{ nodeId: string; creditedBytes: number; flags: string[] }>;
    };
    const check = (id: string) => epoch.inputs.sessionChecks.find((c) => c.sessionId === id);
    expect(check(inflated.ticket.sessionId)?.plausibleBytes).toBe(produced * SEG);
    expect(check(inflated.ticket.sessionId)?.factor).toBeCloseTo((produced * SEG) / (100 * SEG), 6);
    expect(check(greedy.ticket.sessionId)?.factor).toBeCloseTo(0.5, 6);
    const credit = epoch.credits.find((c) => c.nodeId === node.address.toLowerCase());
    // 4 SEG from the first test's session + the two capped claims + the earlier sessions' plain receipts.
    expect(credit?.flags).toContain("implausible-claims-capped");
    const expected = 4 * SEG + produced * SEG + 5 * SEG;
    expect(credit?.creditedBytes).toBe(expected);
  });

  /** Closes what is due and moves the clock to 1 s into the next epoch, with no credit pending. */
  async function freshEpoch(): Promise<void> {
    t = (Math.floor(t / EPOCH_MS) + 1) * EPOCH_MS + 1_000;
    await coordinator.accounting.closeDueEpochs();
  }

  let nextSeq = 1_000;
  /** `n` ledger segments produced from now on, one a second. */
  async function produce(n: number): Promise<void> {
    const rows = Array.from({ length: n }, (_, i) => ({
      streamId: "show",
      rendition: "main",
      seq: nextSeq + i,
      byteLength: SEG,
      durationMs: 1000,
      producedAt: t + i * 1000,
    }));
    nextSeq += n;
    await store.accounting.upsertSegments(rows);
  }

  async function closeOne(): Promise<{
    credits: Array<{ creditedBytes: number; flags: string[]; sessions: number }>;
  }> {
    t = (Math.floor(t / EPOCH_MS) + 1) * EPOCH_MS + 1_000;
    const closed = await coordinator.accounting.closeDueEpochs();
    expect(closed).toHaveLength(1);
    return (await (await fetch(`${coordinator.url}/v1/epochs/${closed[0]}`)).json()) as never;
  }

  it("credits only new bytes in a later epoch, never the same bytes twice", async () => {
    await freshEpoch();
    const s = await session();
    await produce(10);
    t += 10_000;
    await submit([
      { ticket: s.ticket, receipt: await receipt(s, { bytes: 3 * SEG, segments: 3, lastSeq: 3 }) },
    ]);
    expect((await closeOne()).credits[0]?.creditedBytes).toBe(3 * SEG);
    await produce(10);
    t += 10_000;
    await submit([
      { ticket: s.ticket, receipt: await receipt(s, { bytes: 5 * SEG, segments: 5, lastSeq: 5 }) },
    ]);
    expect((await closeOne()).credits[0]?.creditedBytes).toBe(2 * SEG);
  });

  /** `n` segments of a three-rung ladder (by default source SEG, 720p SEG/2, 360p SEG/4), one a second. */
  async function produceLadder(
    n: number,
    rungs: Array<[string, number]> = [
      ["main", SEG],
      ["720p", SEG / 2],
      ["360p", SEG / 4],
    ],
  ): Promise<void> {
    const rows = rungs.flatMap(([rendition, size]) =>
      Array.from({ length: n }, (_, i) => ({
        streamId: "show",
        rendition,
        seq: nextSeq + i,
        byteLength: size,
        durationMs: 1000,
        producedAt: t + i * 1000 + (rendition === "main" ? 0 : 300), // rungs are signed a little later
      })),
    );
    nextSeq += n;
    await store.accounting.upsertSegments(rows);
  }

  it("attack: a colluding viewer that fetches every rung of every segment and signs for all is credited one rung's worth", async () => {
    await freshEpoch();
    const s = await session();
    await produceLadder(10);
    t += 10_000;
    // Every rung of all 10 segments: 10 x (SEG + SEG/2 + SEG/4) bytes, 30 segments.
    const all = 10 * (SEG + SEG / 2 + SEG / 4);
    await submit([
      { ticket: s.ticket, receipt: await receipt(s, { bytes: all, segments: 30, lastSeq: nextSeq - 1 }) },
    ]);
    const closed = (await closeOne()) as Awaited<ReturnType<typeof closeOne>> & {
      inputs: {
        sessionChecks: Array<{ sessionId: string; plausibleBytes: number; producedSegments: number }>;
      };
    };
    const check = closed.inputs.sessionChecks.find((c) => c.sessionId === s.ticket.sessionId);
    // The yardstick is one row per second, the largest rung's: the source here.
    expect(check?.producedSegments).toBe(10);
    expect(check?.plausibleBytes).toBeLessThanOrEqual(10 * SEG + 2_000); // + the init allowance (none held here)
    const credit = closed.credits[0];
    expect(credit?.creditedBytes).toBeLessThanOrEqual(10 * SEG);
    expect(credit?.creditedBytes).toBeGreaterThan(0);
    expect(credit?.flags).toContain("implausible-claims-capped");
  });

  it("credits a viewer switching rungs in full, even on a rung larger than the source: any one rendition per second is plausible", async () => {
    await freshEpoch();
    const s = await session();
    // A streamer sending little (SEG/2) with a 720p rung configured above it (SEG).
    await produceLadder(10, [
      ["main", SEG / 2],
      ["720p", SEG],
      ["360p", SEG / 4],
    ]);
    t += 10_000;
    // 7 seconds at 720p, 3 at 360p: each second once, more than the source alone could have been.
    const bytes = 7 * SEG + 3 * (SEG / 4);
    expect(bytes).toBeGreaterThan(10 * (SEG / 2));
    await submit([
      { ticket: s.ticket, receipt: await receipt(s, { bytes, segments: 10, lastSeq: nextSeq - 1 }) },
    ]);
    const closed = await closeOne();
    expect(closed.credits[0]?.creditedBytes).toBe(bytes);
    expect(closed.credits[0]?.flags).not.toContain("implausible-claims-capped");
  });

  it("caps one viewer identity and flags credit that comes from few viewer identities", async () => {
    await freshEpoch();
    // Eight sessions from one address (127.0.0.1), each claiming every one of the 20 segments produced.
    const sessions = await Promise.all(Array.from({ length: 8 }, () => session()));
    await produce(20);
    t += 20_000;
    for (const s of sessions) {
      await submit([
        { ticket: s.ticket, receipt: await receipt(s, { bytes: 20 * SEG, segments: 20, lastSeq: 119 }) },
      ]);
    }
    const epoch = (await closeOne()) as Awaited<ReturnType<typeof closeOne>> & {
      inputs: { withheld: Array<{ bytes: number; reason: string }> };
    };
    const credit = epoch.credits.find((c) => c.sessions === 8);
    expect(credit?.flags).toEqual(expect.arrayContaining(["identity-capped", "few-viewer-identities"]));
    // Capped to 3 sessions' worth (maxSessionsPerSubnet) of the 20 segments produced, not 8
    // (rounding down loses < 1 byte per session)…
    const [held] = epoch.inputs.withheld;
    expect(held?.reason).toBe("few-viewer-identities");
    expect(held?.bytes).toBeLessThanOrEqual(3 * 20 * SEG);
    expect(held?.bytes).toBeGreaterThanOrEqual(3 * 20 * SEG - 8);
    // …and then withheld: eight sessions from one subnet feeding one node earn nothing.
    expect(credit).toMatchObject({ creditedBytes: 0, weight: 0 });
  });

  it("rate-limits tickets per client address", async () => {
    const limited = createCoordinator(
      {
        port: 0,
        dataDir: ":memory:",
        ticketBurst: 2,
        ticketsPerMinute: 1,
        probeIntervalMs: 0,
        recordIntervalMs: 0,
      },
      { store: new SqliteStore(":memory:"), log: silentLogger },
    );
    await limited.start();
    try {
      await new CoordinatorClient({ baseUrl: limited.url }).registerStream(
        await signStreamRegistration(streamer, "show", Date.now()),
      );
      const viewer = await generateEd25519();
      const codes: number[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await fetch(`${limited.url}/v1/streams/show/sessions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ viewerKey: viewer.publicKey }),
        });
        codes.push(res.status);
      }
      expect(codes).toEqual([201, 201, 429, 429]);
    } finally {
      await limited.stop();
    }
  });
});
