import { COORDINATOR_DEFAULTS, ProbeSchedule } from "@streamrp2p/coordinator";
import { describe, expect, it } from "vitest";

/** A seeded generator: the same draws on every run. */
function seeded(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1_664_525) + 1_013_904_223) >>> 0;
    return x / 2 ** 32;
  };
}

const defaults = {
  probeIntervalMs: COORDINATOR_DEFAULTS.probeIntervalMs,
  probeEachNodeMs: COORDINATOR_DEFAULTS.probeEachNodeMs,
  maxProbesPerSecond: COORDINATOR_DEFAULTS.maxProbesPerSecond,
};

/** Runs the schedule on a virtual clock, one call per `tickMs` (as the prober's timer), for `ms`. */
function run(schedule: ProbeSchedule, nodes: Array<{ nodeId: string }>, ms: number, tickMs = 1_000) {
  const probed = new Map<string, number>();
  let total = 0;
  for (let now = 0; now <= ms; now += tickMs) {
    for (const n of schedule.due(now, nodes)) {
      probed.set(n.nodeId, (probed.get(n.nodeId) ?? 0) + 1);
      total++;
    }
  }
  return { probed, total };
}

describe("probe schedule", () => {
  const nodes = Array.from({ length: 10_000 }, (_, i) => ({ nodeId: `n${i}` }));
  const epochMs = COORDINATOR_DEFAULTS.epochMs;

  it("probes every one of 10,000 nodes at least once per epoch, within the global budget", () => {
    const { probed, total } = run(new ProbeSchedule(defaults, seeded(1)), nodes, epochMs);
    expect(probed.size).toBe(nodes.length);
    expect(total).toBeLessThanOrEqual((defaults.maxProbesPerSecond * epochMs) / 1000 + 1);
    // About the target rate: three rounds an epoch, not more.
    expect(total).toBeGreaterThan((nodes.length * epochMs) / defaults.probeEachNodeMs - nodes.length / 10);
  });

  it("one probe every probeIntervalMs (the old rule) reaches ~1% of them in an epoch", () => {
    const fixed = new ProbeSchedule({ ...defaults, probeEachNodeMs: 0 }, seeded(1));
    const { probed, total } = run(fixed, nodes, epochMs);
    expect(total).toBe(epochMs / defaults.probeIntervalMs);
    expect(probed.size).toBeLessThan(nodes.length / 50);
  });

  it("the budget caps the rate however many nodes there are", () => {
    const many = Array.from({ length: 100_000 }, (_, i) => ({ nodeId: `m${i}` }));
    const schedule = new ProbeSchedule(defaults, seeded(2));
    expect(schedule.rate(many.length) * 1000).toBe(defaults.maxProbesPerSecond);
    const { total } = run(schedule, many, 60_000);
    expect(total).toBeLessThanOrEqual(defaults.maxProbesPerSecond * 60 + 1);
  });

  it("a small network is still probed at least every probeIntervalMs; 0 turns the prober off", () => {
    const three = nodes.slice(0, 3);
    expect(run(new ProbeSchedule(defaults, seeded(3)), three, 300_000).total).toBe(10);
    expect(run(new ProbeSchedule({ ...defaults, probeIntervalMs: 0 }, seeded(3)), three, 300_000).total).toBe(
      0,
    );
  });

  it("a frozen prober does not catch up in a burst when it wakes", () => {
    const schedule = new ProbeSchedule(defaults, seeded(4));
    schedule.due(0, nodes);
    // An hour without a call (SIGSTOP, a lost lease): at most one second's budget at once.
    expect(schedule.due(3_600_000, nodes).length).toBeLessThanOrEqual(defaults.maxProbesPerSecond);
  });

  it("the next node is not predictable from the order: it is drawn among the least recently probed", () => {
    const few = nodes.slice(0, 40);
    const schedule = new ProbeSchedule(
      { ...defaults, probeIntervalMs: 1_000, probeEachNodeMs: 0 },
      seeded(5),
    );
    const firsts = new Set<string>();
    // Eight fresh schedules over the same nodes start with different nodes.
    for (let seed = 10; seed < 18; seed++) {
      const s = new ProbeSchedule({ ...defaults, probeIntervalMs: 1_000, probeEachNodeMs: 0 }, seeded(seed));
      s.due(0, few);
      firsts.add(s.due(1_000, few)[0]?.nodeId ?? "");
    }
    expect(firsts.size).toBeGreaterThan(1);
    // And a node just probed waits for the others: twice as many probes as nodes cover them all.
    const { probed } = run(schedule, few, 2 * few.length * 1_000);
    expect(probed.size).toBe(few.length);
  });

  it("remembers only nodes it can probe now (bounded state)", () => {
    const schedule = new ProbeSchedule({ ...defaults, probeIntervalMs: 1_000 }, seeded(6));
    for (let round = 0; round < 5; round++) {
      const batch = Array.from({ length: 1_000 }, (_, i) => ({ nodeId: `r${round}-${i}` }));
      schedule.due(round * 1_000, batch);
    }
    expect(schedule.size).toBe(1_000);
    expect(schedule.due(10_000, [{ nodeId: "only" }]).map((n) => n.nodeId)).toEqual(["only"]);
    expect(schedule.size).toBe(1);
  });
});
