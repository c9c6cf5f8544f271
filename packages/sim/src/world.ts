import type { NodeRow, ProbeRow, ReceiptRow, SessionRow, StreamRow } from "@streamrp2p/coordinator";
import type { Ed25519KeyPair, Ticket } from "@streamrp2p/protocol";
import { pickWeighted } from "./net.ts";
import type { Rng } from "./rng.ts";
import type { Scenario } from "./scenario.ts";

/** What a node does: honest, or its part in the scenario's attack. */
export type Role = "honest" | "sybil" | "fake-operator" | "gamer" | "liar" | "supporter" | "tamper";

/** A stream a node carries: where it pulls from and who it feeds. */
export interface Carry {
  upstream: string | null;
  since: number; // ms
  viewers: number;
  /** Share of real time this node has the stream this tick (its own capacity and its upstream's). */
  avail: number;
}

export interface SimNode {
  idx: number;
  id: string;
  region: string;
  operator: string;
  role: Role;
  attacker: boolean;
  /** Egress the node's line really carries, bit/s. */
  trueBps: number;
  declaredMbps: number;
  ingest: boolean;
  support: string[];
  alive: boolean;
  /** The row its last heartbeat gave the coordinator. */
  row: NodeRow;
  carried: Map<string, Carry>;
  /** True capacity over what its viewers and children ask for, this tick. */
  headroom: number;
  /** Bits sent in the last tick (its next heartbeat's egress). */
  bitsLastTick: number;
  bytesSent: number;
  /** Bytes honest viewers received from it intact. */
  honestBytes: number;
  probes: ProbeRow[];
  quality: number;
  qualityAt: number;
  rewardMicro: bigint;
}

export interface SimStream {
  idx: number;
  id: string;
  signer: string;
  row: StreamRow;
  bitrateBps: number;
  segmentMs: number;
  segmentBytes: number;
  startedAt: number;
  /** Honest viewer-ms watched in the current epoch: what the pool pays for. */
  viewerMsEpoch: number;
}

/** A session's keys and ticket when it is one of the sampled sessions signed for real. */
export interface RealCrypto {
  keys: Ed25519KeyPair;
  ticket: Ticket;
}

export interface Viewer {
  session: SessionRow;
  stream: SimStream;
  region: string;
  fake: boolean;
  node: SimNode | undefined;
  candidates: string[];
  next: number;
  bufferMs: number;
  started: boolean;
  waitedMs: number;
  stallMs: number;
  playMs: number;
  endAt: number;
  /** Latest cumulative receipt per node served by, as the relay holds it. */
  receipts: Map<string, ReceiptRow>;
  /** Media received per node (ms), which the receipt's segment count follows. */
  mediaMs: Map<string, number>;
  real: RealCrypto | undefined;
}

export const nodeIdOf = (i: number) => `0x${(i + 1).toString(16).padStart(40, "0")}`;
const signerOf = (i: number) => `0x${(0xa0000000 + i).toString(16).padStart(40, "0")}`;

/** Log-uniform in [min, max]: line speeds span orders of magnitude. */
function logUniform(rng: Rng, min: number, max: number): number {
  return Math.exp(Math.log(min) + rng.next() * (Math.log(max) - Math.log(min)));
}

/** Which nodes the attack takes, by index: the first `share` of a shuffled order. */
function attackRoles(s: Scenario, rng: Rng): Role[] {
  const n = s.nodes.count;
  const roles: Role[] = Array(n).fill("honest");
  const a = s.attack;
  const order = [...Array(n).keys()];
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  const take = (count: number, role: Role) => {
    for (const i of order.slice(0, Math.min(n, Math.round(count)))) roles[i] = role;
  };
  if (a.kind === "sybil") take(a.share * n, "sybil");
  else if (a.kind === "fake-viewers") take(a.nodes, "fake-operator");
  else if (a.kind === "probe-gaming") take(a.share * n, "gamer");
  else if (a.kind === "capacity-lie") take(a.share * n, "liar");
  else if (a.kind === "starvation") take(a.share * n, "supporter");
  else if (a.kind === "tamper") take(a.share * n, "tamper");
  return roles;
}

/** The attacker operator (one identity behind all its nodes). */
export const ATTACKER = "0xbad0000000000000000000000000000000000bad";

export function buildNodes(s: Scenario, rng: Rng, streams: SimStream[]): SimNode[] {
  const roles = attackRoles(s, rng);
  const a = s.attack;
  return roles.map((role, idx) => {
    const id = nodeIdOf(idx);
    const region = pickWeighted(s.nodes.regions, rng);
    let trueMbps = logUniform(rng, s.nodes.capacityMbps.min, s.nodes.capacityMbps.max);
    let declared = Math.round(trueMbps);
    let ingest = rng.next() < s.nodes.ingestShare;
    if (role === "liar" && a.kind === "capacity-lie") {
      trueMbps = a.trueMbps;
      declared = a.declaredMbps;
      ingest = true;
    }
    // Supporters carry one streamer (the most watched) and nothing else.
    const support = role === "supporter" ? [(streams[0] as SimStream).signer] : [];
    const attacker = role !== "honest" && role !== "supporter";
    const row: NodeRow = {
      nodeId: id,
      url: `https://n${idx}.sim`,
      region,
      capacityMbps: declared,
      ingest,
      streams: support,
      tokenHash: "",
      registeredAt: 0,
      lastHeartbeatAt: 0,
      connections: 0,
      egressBps: 0,
      bytesServed: 0,
      load: [],
      draining: false,
    };
    return {
      idx,
      id,
      region,
      operator: attacker ? ATTACKER : id,
      role,
      attacker,
      trueBps: trueMbps * 1e6,
      declaredMbps: declared,
      ingest,
      support,
      alive: true,
      row,
      carried: new Map(),
      headroom: 0,
      bitsLastTick: 0,
      bytesSent: 0,
      honestBytes: 0,
      probes: [],
      quality: 0.8,
      qualityAt: -1,
      rewardMicro: 0n,
    };
  });
}

export function buildStreams(s: Scenario, rng: Rng): SimStream[] {
  const bitrateBps = s.streams.bitrateMbps * 1e6;
  return Array.from({ length: s.streams.count }, (_, idx) => {
    const id = `s${idx}`;
    const signer = signerOf(idx);
    return {
      idx,
      id,
      signer,
      row: { streamId: id, signer, createdAt: 0, ingest: [] },
      bitrateBps,
      segmentMs: s.streams.segmentMs,
      segmentBytes: Math.round((bitrateBps * s.streams.segmentMs) / 8000),
      startedAt: idx === 0 ? 0 : Math.floor(rng.next() * Math.min(s.streams.startWithinMs, s.durationMs / 2)),
      viewerMsEpoch: 0,
    };
  });
}

/** The stream's newest segment at `now` (the segment ledger's edge). */
export function edgeOf(stream: SimStream, now: number): number {
  return Math.floor((now - stream.startedAt) / stream.segmentMs);
}
