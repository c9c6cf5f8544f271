import { COORDINATOR_DEFAULTS, SUSPECT_ROUTING_FACTOR } from "@streamrp2p/coordinator";
import { OFF_CHAIN_DOMAIN, sha256Hex, signDelivery, signSegmentAttestation } from "@streamrp2p/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccountingHarness } from "./support/accounting-harness.ts";

/**
 * Audit issue 11, finding 6, on a running coordinator (HTTP on 127.0.0.1,
 * SQLite, injected clock): tamper evidence counts only for the (node, stream)
 * it concerns; a viewer's unproven report stops counting after
 * COORDINATOR_DEFAULTS.evidenceTtlMs, a proof (the node's own signature
 * contradicting the attestation it names) does not.
 */
const h = new AccountingHarness();
beforeAll(() => h.start({}, ["x", "y"]));
afterAll(() => h.stop());

/** The node says it is healthy and holds both streams (at the harness's clock). */
async function heartbeat() {
  await h.client.heartbeat(h.token, {
    nodeId: h.nodeId,
    connections: 0,
    egressBps: 0,
    bytesServed: 0,
    streams: ["x", "y"].map((streamId) => ({ streamId, upstream: null, liveEdgeSeq: 3, viewers: 0 })),
  });
}

/**
 * The node's routing score for a new viewer of `streamId`; undefined when it is not offered.
 * Read without taking a ticket, and after a heartbeat 1 ms on: routing counts viewers it sent
 * to a node (the reports' tickets) against its spare capacity until the node reports its load.
 */
async function scoreFor(streamId: string): Promise<number | undefined> {
  h.t += 1;
  await heartbeat();
  await h.coordinator.accounting.refreshQuality();
  const r = await fetch(`${h.coordinator.url}/v1/streams/${streamId}/nodes`);
  expect(r.status).toBe(200);
  const nodes = ((await r.json()) as { nodes: Array<{ nodeId: string; score: number }> }).nodes;
  return nodes.find((n) => n.nodeId === h.nodeId)?.score;
}

/** A viewer of stream x reports segment `seq` as served with other bytes; `signed`: with the node's proof. */
async function report(seq: number, signed: boolean) {
  const truth = Buffer.from(`segment ${seq}`);
  const att = await signSegmentAttestation(h.streamer, OFF_CHAIN_DOMAIN, {
    streamId: "x",
    rendition: "main",
    seq,
    initVersion: 0,
    sha256: sha256Hex(truth),
    byteLength: truth.length,
    durationMs: 1_000,
    producedAt: h.t,
  });
  const served = sha256Hex(Buffer.from(`altered ${seq}`));
  const viewer = await h.viewer("x");
  const r = await h.post("/v1/evidence", {
    ticket: viewer.ticket,
    streamId: "x",
    nodeId: h.nodeId,
    attestation: att,
    servedSha256: served,
    servedBytes: truth.length,
    nodeSignature: signed ? await signDelivery(h.node, OFF_CHAIN_DOMAIN, att, served) : null,
  });
  expect(r.status).toBe(201);
  expect((r.body as { proven: boolean }).proven).toBe(signed);
}

describe("tamper evidence is scoped to (node, stream) and unproven evidence expires", () => {
  it("an unproven report demotes the node on its stream only, until it expires", async () => {
    await heartbeat();
    const before = { x: await scoreFor("x"), y: await scoreFor("y") };
    expect(before.x).toBeGreaterThan(0);
    expect(before.y).toBe(before.x);

    await report(1, false);
    const demoted = await scoreFor("x");
    expect(demoted).toBe(Number(((before.x ?? 0) * SUSPECT_ROUTING_FACTOR).toFixed(4)));
    expect(demoted).toBeLessThan(before.x ?? 0);
    expect(await scoreFor("y")).toBe(before.y);

    // Just before the TTL it still counts; just after, it no longer does. (The node's own
    // quality moved meanwhile, it was silent for a day: stream y is the yardstick.)
    h.t += COORDINATOR_DEFAULTS.evidenceTtlMs - 1_000;
    await heartbeat();
    expect(await scoreFor("x")).toBeLessThan((await scoreFor("y")) ?? 0);
    h.t += 2_000;
    await heartbeat();
    expect(await scoreFor("x")).toBe(await scoreFor("y"));
  });

  it("a proof removes the node from that stream's routing for good, and from no other stream", async () => {
    await heartbeat();
    const y = await scoreFor("y");
    expect(y).toBeGreaterThan(0);
    await report(2, true);
    expect(await scoreFor("x")).toBeUndefined();
    expect(await scoreFor("y")).toBe(y);
    h.t += 2 * COORDINATOR_DEFAULTS.evidenceTtlMs;
    await heartbeat();
    expect(await scoreFor("x")).toBeUndefined();
    expect(await scoreFor("y")).toBe(y);
  });
});
