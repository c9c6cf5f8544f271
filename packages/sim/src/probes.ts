import { type ProbeSchedule, REPUTATION_PARAMS } from "@streamrp2p/coordinator";
import type { CoordinatorModel } from "./coordinator-model.ts";
import { rttMs } from "./net.ts";
import type { Rng } from "./rng.ts";
import type { Scenario } from "./scenario.ts";
import type { SimNode, SimStream } from "./world.ts";

/** Where the coordinator's prober sits. */
const PROBER_REGION = "us-east";

/**
 * The probes due this tick, as the built-in prober picks them (the production
 * ProbeSchedule over the nodes reporting a stream they hold), each on a random
 * stream of the node.
 */
export function probeDue(
  schedule: ProbeSchedule,
  model: CoordinatorModel,
  nodes: SimNode[],
  streams: SimStream[],
  rng: Rng,
  s: Scenario,
): void {
  const holders = nodes.filter((n) => n.row.load.some((l) => l.liveEdgeSeq >= 0));
  for (const n of schedule.due(
    model.now(),
    holders.map((h) => ({ nodeId: h.id, n: h })),
  ))
    probeOnce(model, n.n, streams, rng, s);
}

/**
 * One probe of `n` on a random stream it reports holding, as the built-in
 * prober makes it: the outcome comes from
 * what the simulated node does for a viewer, except that a probe-gaming node
 * that recognises the probe serves it perfectly. The row goes through the
 * production reputation; a tampered segment carrying the node's delivery
 * signature is a fraud proof (TamperIndex, quality 0 on that stream).
 */
export function probeOnce(
  model: CoordinatorModel,
  n: SimNode,
  streams: SimStream[],
  rng: Rng,
  s: Scenario,
): void {
  const loads = n.row.load.filter((l) => l.liveEdgeSeq >= 0);
  const l = loads[rng.int(loads.length)];
  if (!l) return;
  const st = streams[Number(l.streamId.slice(1))] as SimStream;
  const at = model.now();
  const carry = n.carried.get(st.id);
  const a = s.attack;
  const failed = (error: string) =>
    model.addProbe({
      nodeId: n.id,
      streamId: st.id,
      at,
      ok: false,
      ttfbMs: null,
      throughputBps: null,
      edgeLag: null,
      error,
      via: null,
    });
  if (!n.alive || !carry) {
    failed("unreachable");
    return;
  }
  let rate = carry.avail;
  if (n.role === "gamer" && a.kind === "probe-gaming" && rng.next() >= a.detect) rate *= a.viewerRate;
  if (n.role === "tamper" && a.kind === "tamper" && rng.next() < a.rate) {
    failed("hash mismatch");
    model.addEvidence(n.id, st.id, true);
    return;
  }
  const ok = rate > 0.5;
  const ttfbMs = rttMs(PROBER_REGION, n.region) + (1 - Math.min(1, rate)) * REPUTATION_PARAMS.worstTtfbMs;
  model.addProbe({
    nodeId: n.id,
    streamId: st.id,
    at,
    ok,
    ttfbMs: ok ? ttfbMs : null,
    throughputBps: ok ? rate * st.bitrateBps : null,
    edgeLag: Math.ceil((1 - Math.min(1, rate)) * REPUTATION_PARAMS.worstEdgeLag),
    error: ok ? null : "too slow",
    via: null,
  });
}
