import { receiptAdvance } from "@streamrp2p/protocol";
import type { CoordinatorModel } from "./coordinator-model.ts";
import { COORDINATOR_RTT_MS, rttMs } from "./net.ts";
import type { Rng } from "./rng.ts";
import type { Scenario } from "./scenario.ts";
import { edgeOf, type SimNode, type SimStream, type Viewer } from "./world.ts";

/** Failovers a player gets through in one tick before it waits for the next. */
const MAX_HOPS_PER_TICK = 3;

export interface DeliveryStats {
  stallMs: number;
  playMs: number;
  startups: number[];
  failovers: number;
  receipts: number;
  /** Receipts to sign and verify for real after the tick (sampled sessions). */
  realReceipts: Array<{ v: Viewer; nodeId: string }>;
  tamperReports: number;
}

export interface DeliveryContext {
  s: Scenario;
  model: CoordinatorModel;
  nodes: SimNode[];
  streams: SimStream[];
  rng: Rng;
  now: number;
  tickMs: number;
  /** Ingest relays' egress (bytes) and relay-to-relay bytes. */
  ingestBytes: { value: number };
}

/**
 * Flow-level delivery for one tick. Per node, headroom = true capacity over
 * what its viewers and child relays ask for; a relay has a stream in real
 * time at min(its headroom, its upstream's), down from the ingest relays.
 * Each viewer then plays its tick: media in at that rate (its own downlink
 * caps it), media out in real time, a buffer between, stalls when empty.
 */
export function computeAvailability(c: DeliveryContext): void {
  const headroom = new Map<string, number>();
  const demand = new Map<string, number>();
  const children = new Map<string, Map<string, string[]>>();
  for (const st of c.streams) {
    const byUp = new Map<string, string[]>();
    for (const a of c.model.assignmentsOf(st.id).values()) {
      const list = byUp.get(a.upstreamId) ?? [];
      list.push(a.nodeId);
      byUp.set(a.upstreamId, list);
      demand.set(a.upstreamId, (demand.get(a.upstreamId) ?? 0) + st.bitrateBps);
    }
    children.set(st.id, byUp);
  }
  for (const n of c.nodes) {
    let d = demand.get(n.id) ?? 0;
    for (const [sid, carry] of n.carried)
      d += carry.viewers * (c.streams[Number(sid.slice(1))] as SimStream).bitrateBps;
    headroom.set(n.id, n.alive ? (d <= 0 ? Number.POSITIVE_INFINITY : n.trueBps / d) : 0);
    for (const carry of n.carried.values()) carry.avail = 0;
  }
  for (const st of c.streams) {
    const byUp = children.get(st.id) as Map<string, string[]>;
    const queue: Array<[string, number]> = [];
    for (const id of st.row.ingest) queue.push([id, Math.min(1, headroom.get(id) ?? 0)]);
    for (let i = 0; i < queue.length; i++) {
      const [id, avail] = queue[i] as [string, number];
      const carry = c.model.node(id)?.carried.get(st.id);
      if (!carry) continue;
      carry.avail = avail;
      const kids = byUp.get(id) ?? [];
      for (const kid of kids) queue.push([kid, Math.min(avail, headroom.get(kid) ?? 0)]);
      // Relay-to-relay and origin-to-ingest bytes: sent, never paid by a receipt.
      const n = c.model.node(id) as SimNode;
      const bits = kids.length * st.bitrateBps * avail * (c.tickMs / 1000);
      n.bitsLastTick += bits;
      n.bytesSent += bits / 8;
      if (st.row.ingest.includes(id)) c.ingestBytes.value += bits / 8;
    }
  }
  for (const n of c.nodes) n.headroom = headroom.get(n.id) ?? 0;
}

/** What the player sees from `n` for its stream: share of real time, and whether segments arrive corrupted. */
function serviceOf(c: DeliveryContext, v: Viewer, n: SimNode) {
  const carry = n.carried.get(v.stream.id);
  if (!n.alive || !carry) return { rate: 0, corrupt: 0 };
  let rate = carry.avail;
  const a = c.s.attack;
  if (n.role === "gamer" && a.kind === "probe-gaming") rate *= a.viewerRate;
  const corrupt = n.role === "tamper" && a.kind === "tamper" ? a.rate : 0;
  return { rate, corrupt };
}

/** Attaches the viewer to candidate `v.next` (or asks the coordinator again); returns ms lost. */
function failover(c: DeliveryContext, v: Viewer, stats: DeliveryStats): number {
  detach(v);
  stats.failovers++;
  let lost = c.s.player.failoverMs;
  v.next++;
  if (v.next >= v.candidates.length) {
    lost += COORDINATOR_RTT_MS;
    route(c, v);
  }
  const id = v.candidates[v.next];
  const n = id === undefined ? undefined : c.model.node(id);
  if (n) attach(v, n);
  return lost;
}

export function route(c: DeliveryContext, v: Viewer): void {
  c.model.work.routeRequests++;
  v.candidates = c.model.index
    .candidates({ stream: v.stream.row, region: v.region, assign: true })
    .map((x) => x.nodeId);
  v.next = 0;
}

export function attach(v: Viewer, n: SimNode): void {
  const carry = n.carried.get(v.stream.id);
  v.node = n;
  if (carry) carry.viewers++;
}

export function detach(v: Viewer): void {
  const carry = v.node?.carried.get(v.stream.id);
  if (carry && carry.viewers > 0) carry.viewers--;
  v.node = undefined;
}

/** One viewer's tick: failovers, startup, buffer, stall, bytes, receipt. */
export function playTick(c: DeliveryContext, v: Viewer, stats: DeliveryStats): void {
  const dt = c.tickMs;
  const bitrate = v.stream.bitrateBps;
  if (v.fake) {
    claimTick(c, v, stats);
    return;
  }
  let lost = 0;
  let hops = 0;
  let service = v.node ? serviceOf(c, v, v.node) : { rate: 0, corrupt: 0 };
  while (
    hops < MAX_HOPS_PER_TICK &&
    lost < dt &&
    (!v.node || service.rate < c.s.player.minRate || service.corrupt > 0)
  ) {
    if (v.node && service.corrupt > 0 && service.rate > 0) {
      // The loader's hash check fails: the segment is refetched elsewhere and the node reported
      // with its own delivery signature over the bad bytes (a fraud proof).
      stats.tamperReports++;
      c.model.addEvidence(v.node.id, v.stream.id, true);
    }
    lost += failover(c, v, stats);
    service = v.node ? serviceOf(c, v, v.node) : { rate: 0, corrupt: 0 };
    hops++;
  }
  lost = Math.min(dt, lost);
  const n = v.node;
  const downlinkRate = (c.s.player.downlinkMbps * 1e6) / bitrate;
  const rate = n ? Math.min(service.rate, downlinkRate) : 0;
  let supply = rate * (dt - lost); // media ms received
  let playable = dt;
  if (!v.started) {
    if (!n || rate <= 0) {
      v.waitedMs += dt;
      return;
    }
    const throughput = Math.min(c.s.player.downlinkMbps * 1e6, bitrate * n.headroom);
    const startup =
      lost +
      COORDINATOR_RTT_MS +
      3 * rttMs(v.region, n.region) +
      (v.stream.segmentBytes * 8000) / Math.max(1, throughput);
    const total = v.waitedMs + startup;
    if (startup >= dt) {
      v.waitedMs += dt;
      return;
    }
    v.started = true;
    stats.startups.push(total);
    playable = dt - startup;
    v.bufferMs = v.stream.segmentMs;
  }
  let buffer = v.bufferMs + supply - playable;
  let stall = 0;
  if (buffer < 0) {
    stall = -buffer;
    buffer = 0;
  }
  if (buffer > c.s.player.bufferMs) {
    supply -= buffer - c.s.player.bufferMs;
    buffer = c.s.player.bufferMs;
  }
  v.bufferMs = buffer;
  v.stallMs += stall;
  v.playMs += playable - stall;
  stats.stallMs += stall;
  stats.playMs += playable - stall;
  v.stream.viewerMsEpoch += playable - stall;
  if (n && supply > 0) deliver(c, v, n, supply, service.corrupt, stats);
}

function deliver(
  c: DeliveryContext,
  v: Viewer,
  n: SimNode,
  mediaMs: number,
  corrupt: number,
  stats: DeliveryStats,
) {
  const bytes = (mediaMs * v.stream.bitrateBps) / 8000;
  n.bytesSent += bytes;
  n.bitsLastTick += bytes * 8;
  const intact = bytes * (1 - corrupt);
  n.honestBytes += intact;
  if (v.stream.row.ingest.includes(n.id)) c.ingestBytes.value += bytes;
  sign(c, v, n.id, mediaMs * (1 - corrupt), stats);
}

/** A fake viewer's tick: receipts for a full stream's worth to its operator's node, no byte sent. */
function claimTick(c: DeliveryContext, v: Viewer, stats: DeliveryStats): void {
  const n = v.node;
  if (!n) return;
  sign(c, v, n.id, c.tickMs, stats);
}

/** The viewer signs its cumulative receipt for `nodeId`; the relay's batch carries it to intake. */
function sign(c: DeliveryContext, v: Viewer, nodeId: string, mediaMs: number, stats: DeliveryStats): void {
  const total = (v.mediaMs.get(nodeId) ?? 0) + mediaMs;
  v.mediaMs.set(nodeId, total);
  const next = {
    sessionId: v.session.sessionId,
    nodeId,
    streamId: v.stream.id,
    bytes: Math.floor((total * v.stream.bitrateBps) / 8000),
    segments: Math.floor(total / v.stream.segmentMs),
    lastSeq: edgeOf(v.stream, c.now),
    issuedAt: c.now,
    json: "",
  };
  const held = v.receipts.get(nodeId);
  if (receiptAdvance(held, next) === "advances") v.receipts.set(nodeId, next);
  stats.receipts++;
  if (v.real) stats.realReceipts.push({ v, nodeId });
}
