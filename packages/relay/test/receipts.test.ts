import { generateEd25519, type Receipt, signReceipt, signTicket, type Ticket } from "@streamrp2p/protocol";
import { createRelay, ReceiptStore, type Relay } from "@streamrp2p/relay";
import { silentLogger } from "@streamrp2p/service";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newAccount } from "../../../test/support/fixtures.ts";

describe("relay receipt store (POST /v1/receipts)", () => {
  let relay: Relay;
  let coordinatorKey: Awaited<ReturnType<typeof generateEd25519>>;
  let viewer: Awaited<ReturnType<typeof generateEd25519>>;
  let ticket: Ticket;
  let t = Date.now();

  beforeAll(async () => {
    coordinatorKey = await generateEd25519();
    viewer = await generateEd25519();
    relay = createRelay(
      { port: 0 },
      {
        account: newAccount(),
        log: silentLogger,
        directory: { signerOf: async () => undefined },
        ticketPublicKey: async () => coordinatorKey.publicKey,
      },
    );
    await relay.start();
    ticket = await signTicket(coordinatorKey.privateKey, {
      sessionId: "cd".repeat(16),
      streamId: "demo",
      viewerKey: viewer.publicKey,
      issuedAt: t,
      expiresAt: t + 3_600_000,
    });
  });
  afterAll(() => relay.stop());

  async function receipt(
    fields: Partial<Omit<Receipt, "signature">> = {},
    key = viewer.privateKey,
  ): Promise<Receipt> {
    t += 1;
    return signReceipt(key, {
      sessionId: ticket.sessionId,
      nodeId: relay.nodeId as `0x${string}`,
      streamId: "demo",
      bytes: 1000,
      segments: 1,
      lastSeq: 5,
      issuedAt: t,
      ...fields,
    });
  }

  async function post(body: unknown): Promise<{ status: number; code?: string }> {
    const res = await fetch(`${relay.url}/v1/receipts`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    const json = (await res.json()) as { error?: { code: string } };
    return { status: res.status, code: json.error?.code };
  }

  it("keeps the latest valid cumulative receipt", async () => {
    expect((await post({ ticket, receipt: await receipt({ bytes: 1000 }) })).status).toBe(200);
    expect(
      (await post({ ticket, receipt: await receipt({ bytes: 3000, segments: 2, lastSeq: 6 }) })).status,
    ).toBe(200);
    expect(relay.receipts.get(ticket.sessionId)?.receipt.bytes).toBe(3000);
    // Listed for anyone, but without the ticket (viewer key, coordinator signature): issue 10, finding 8.
    const listed = (await (await fetch(`${relay.url}/v1/receipts`)).json()) as { receipts: unknown[] };
    expect(listed.receipts).toHaveLength(1);
    expect(JSON.stringify(listed)).not.toContain(ticket.signature);
    expect(JSON.stringify(listed)).not.toContain(ticket.viewerKey);
  });

  it("refuses a forged receipt signature", async () => {
    const other = await generateEd25519();
    expect(
      await post({
        ticket,
        receipt: await receipt({ bytes: 9000, segments: 9, lastSeq: 9 }, other.privateKey),
      }),
    ).toEqual({ status: 403, code: "BAD_SIGNATURE" });
  });

  it("refuses a receipt altered after signing (inflated bytes)", async () => {
    const r = await receipt({ bytes: 4000, segments: 3, lastSeq: 7 });
    expect(await post({ ticket, receipt: { ...r, bytes: 4_000_000 } })).toEqual({
      status: 403,
      code: "BAD_SIGNATURE",
    });
  });

  it("refuses a receipt for another node", async () => {
    expect(
      await post({
        ticket,
        receipt: await receipt({ nodeId: newAccount().address.toLowerCase() as `0x${string}`, bytes: 5000 }),
      }),
    ).toEqual({ status: 403, code: "FOREIGN_RECEIPT" });
  });

  it("refuses a replayed or backward receipt", async () => {
    const replay = relay.receipts.get(ticket.sessionId)?.receipt as Receipt;
    expect(await post({ ticket, receipt: replay })).toEqual({ status: 409, code: "NOT_MONOTONIC" });
    expect(await post({ ticket, receipt: await receipt({ bytes: 10, segments: 2, lastSeq: 6 }) })).toEqual({
      status: 409,
      code: "NOT_MONOTONIC",
    });
    expect(relay.receipts.get(ticket.sessionId)?.receipt.bytes).toBe(3000); // nothing lost
  });

  it("refuses a ticket not signed by the coordinator, or long expired", async () => {
    const rogue = await generateEd25519();
    const forged = await signTicket(rogue.privateKey, { ...ticket, sessionId: "ef".repeat(16) });
    const r = await receipt({ sessionId: forged.sessionId });
    expect(await post({ ticket: forged, receipt: r })).toEqual({ status: 403, code: "BAD_SIGNATURE" });
    const old = await signTicket(coordinatorKey.privateKey, {
      ...ticket,
      sessionId: "01".repeat(16),
      issuedAt: 0,
      expiresAt: 1,
    });
    expect(await post({ ticket: old, receipt: await receipt({ sessionId: old.sessionId }) })).toEqual({
      status: 401,
      code: "TICKET_EXPIRED",
    });
  });

  it("refuses a receipt that does not belong to the ticket's session", async () => {
    expect(await post({ ticket, receipt: await receipt({ sessionId: "99".repeat(16), bytes: 1 }) })).toEqual({
      status: 400,
      code: "VALIDATION_FAILED",
    });
  });

  it("refuses malformed and oversized bodies", async () => {
    expect((await post("{not json")).code).toBe("BAD_REQUEST");
    expect((await post({ ticket })).code).toBe("VALIDATION_FAILED");
    expect((await post({ ticket, receipt: await receipt(), extra: 1 })).code).toBe("VALIDATION_FAILED");
    expect((await post({ pad: "x".repeat(20_000) })).status).toBe(413);
  });
});

describe("relay receipt store: bounded", () => {
  it("forgets submitted receipts first when full, refuses only when every held receipt is unsubmitted, and sweeps expired ones", async () => {
    const coordinatorKey = await generateEd25519();
    const viewer = await generateEd25519();
    const nodeId = newAccount().address.toLowerCase();
    let now = Date.now();
    const store = new ReceiptStore({
      nodeId,
      ticketPublicKey: async () => coordinatorKey.publicKey,
      now: () => now,
      maxReceipts: 5,
    });
    const submission = async (i: number, expiresIn = 3_600_000) => {
      const ticket = await signTicket(coordinatorKey.privateKey, {
        sessionId: i.toString(16).padStart(32, "0"),
        streamId: "demo",
        viewerKey: viewer.publicKey,
        issuedAt: now,
        expiresAt: now + expiresIn,
      });
      const receipt = await signReceipt(viewer.privateKey, {
        sessionId: ticket.sessionId,
        nodeId: nodeId as `0x${string}`,
        streamId: "demo",
        bytes: 1000,
        segments: 1,
        lastSeq: 1,
        issuedAt: now,
      });
      return { ticket, receipt };
    };
    for (let i = 0; i < 5; i++) await store.accept(await submission(i, i === 0 ? 1_000 : 3_600_000));
    // Full of unsubmitted receipts: a new session waits (nothing held is lost).
    await expect(store.accept(await submission(5))).rejects.toMatchObject({ code: "UNAVAILABLE" });
    store.takeDirty(); // submitted to the coordinator
    await store.accept(await submission(5));
    expect(store.size).toBe(5);
    expect(store.get((0).toString(16).padStart(32, "0"))).toBeUndefined(); // the oldest went
    expect(store.get((5).toString(16).padStart(32, "0"))).toBeDefined();
    // Expired and submitted: swept.
    store.takeDirty();
    now += 3_600_000 + 6 * 60_000;
    expect(store.sweep()).toBe(5);
    expect(store.size).toBe(0);
  });
});
