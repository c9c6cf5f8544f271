/**
 * Relay tree latency: `npm run bench:tree`
 *   node --import tsx bench/tree.ts [--relays 32] [--fan-out 3] [--steady 30] [--kill-window 20]
 *
 * A coordinator, an origin with ffmpeg's test source, and --relays relay
 * processes (2 ingest) on 127.0.0.1 carrying one live stream in a tree of
 * fan-out --fan-out. For every segment, the time from the origin's attestation
 * (producedAt) to the whole segment being fetchable at the deepest relay,
 * against the same at an ingest relay (the reference, same run); then the
 * same while a mid-tree ancestor of that relay is killed (kill -9), with how
 * far any leaf fell behind the ingest relays, in segments.
 */
import { parseArgs } from "node:util";
import { StreamWindowSchema, segmentFileName } from "@streamrp2p/protocol";
import {
  childrenOf,
  depthOf,
  relayEdge,
  startTreeNetwork,
  type TreeNetwork,
  type TreeNode,
  treeNodes,
} from "../test/support/relay-tree.ts";
import { waitUntil } from "../test/support/tools.ts";

const { values } = parseArgs({
  options: {
    relays: { type: "string", default: "32" },
    "fan-out": { type: "string", default: "3" },
    steady: { type: "string", default: "30" },
    "kill-window": { type: "string", default: "20" },
  },
});
const RELAYS = Number(values.relays);
const FAN_OUT = Number(values["fan-out"]);
const STEADY_S = Number(values.steady);
const KILL_WINDOW_S = Number(values["kill-window"]);

const progress = (line: string) => console.log(`[bench:tree] ${line}`);

function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

/**
 * Follows one relay's window (long-poll) and fetches each new segment whole as
 * soon as it is announced: records, per seq, ms from producedAt to the last byte.
 */
class Watcher {
  readonly samples = new Map<number, number>();
  #running = true;
  readonly #done: Promise<void>;

  constructor(
    readonly url: string,
    readonly streamId: string,
  ) {
    this.#done = this.#loop();
  }

  async #loop(): Promise<void> {
    let after = -1;
    while (this.#running) {
      try {
        const res = await fetch(`${this.url}/live/${this.streamId}/window.json?after=${after}&wait=1`, {
          signal: AbortSignal.timeout(10_000),
        });
        const win = StreamWindowSchema.parse(await res.json());
        const fresh = win.segments.filter((s) => s.attestation.seq > after);
        // The first look only sets the position: old segments are not a measure of anything.
        if (after >= 0) for (const s of fresh) void this.#fetch(s.attestation.seq, s.attestation.producedAt);
        after = Math.max(after, ...fresh.map((s) => s.attestation.seq));
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  async #fetch(seq: number, producedAt: number): Promise<void> {
    try {
      const res = await fetch(`${this.url}/live/${this.streamId}/${segmentFileName(seq)}`, {
        signal: AbortSignal.timeout(10_000),
      });
      if (res.status !== 200) return;
      await res.arrayBuffer();
      this.samples.set(seq, Date.now() - producedAt);
    } catch {
      // A failed fetch is no availability: the sample is missing (counted below).
    }
  }

  /** Segments announced between the first and the last measured one that never became fetchable here. */
  get missed(): number {
    const seqs = [...this.samples.keys()];
    return seqs.length === 0 ? 0 : Math.max(...seqs) - Math.min(...seqs) + 1 - seqs.length;
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.race([this.#done, new Promise((r) => setTimeout(r, 11_000))]);
  }
}

/** Polls every leaf's edge against the ingest relays' edge; keeps the worst lag seen, in segments. */
class LagMonitor {
  maxLag = 0;
  polls = 0;
  #running = true;
  readonly #done: Promise<void>;

  constructor(ingestUrls: string[], leafUrls: () => string[], streamId: string) {
    this.#done = (async () => {
      while (this.#running) {
        const [ingest, leaves] = await Promise.all([
          Promise.all(ingestUrls.map((u) => relayEdge(u, streamId))),
          Promise.all(leafUrls().map((u) => relayEdge(u, streamId))),
        ]);
        const edge = Math.max(...ingest);
        if (edge >= 0 && leaves.length > 0) {
          this.maxLag = Math.max(this.maxLag, ...leaves.map((e) => edge - e));
          this.polls += 1;
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#done;
  }
}

async function wholeTree(
  net: TreeNetwork,
  out: ReadonlySet<string>,
): Promise<Map<string, TreeNode> | undefined> {
  const nodes = await treeNodes(net.coordinator.url, net.streamId);
  const ok = net.relays
    .filter((r) => !out.has(r.nodeId))
    .every((r) => depthOf(nodes, r.nodeId) !== undefined && !out.has(nodes.get(r.nodeId)?.upstream ?? ""));
  return ok ? nodes : undefined;
}

async function main(): Promise<void> {
  const figures: Array<[string, number, string]> = [];
  const startedAt = Date.now();
  const net = await startTreeNetwork("bench-tree", {
    relays: RELAYS,
    ingest: 2,
    maxChildren: FAN_OUT,
    heartbeatIntervalMs: 1_000,
    startConcurrency: 4,
    onProgress: progress,
  });
  try {
    progress(`all processes up in ${Date.now() - startedAt} ms; waiting for the tree`);
    const nodes = await waitUntil("every relay in the tree", () => wholeTree(net, new Set()), 180_000, 1_000);
    const urlOf = (id: string) => nodes.get(id)?.url ?? "";
    const depths = net.relays.map((r) => depthOf(nodes, r.nodeId) ?? 0);
    const depth = Math.max(...depths);
    const children = childrenOf(nodes);
    const deepest = net.relays.find((_, i) => depths[i] === depth);
    const ingest = net.relays.find((r) => r.ingest);
    if (!deepest || !ingest) throw new Error("no deepest or no ingest relay");
    progress(
      `tree of ${RELAYS} relays, depth ${depth}, levels ${[...Array(depth).keys()].map((d) => depths.filter((x) => x === d + 1).length).join("/")}`,
    );
    const leaves = () =>
      net.relays.filter((r) => !r.proc.exited && (children.get(r.nodeId)?.length ?? 0) === 0);

    // Steady state.
    let deep = new Watcher(urlOf(deepest.nodeId), net.streamId);
    let ref = new Watcher(urlOf(ingest.nodeId), net.streamId);
    const ingestUrls = net.relays.filter((r) => r.ingest).map((r) => urlOf(r.nodeId));
    let lag = new LagMonitor(ingestUrls, () => leaves().map((r) => urlOf(r.nodeId)), net.streamId);
    progress(`steady state: watching ${deepest.name} (depth ${depth}) and ${ingest.name} for ${STEADY_S} s`);
    await new Promise((r) => setTimeout(r, STEADY_S * 1_000));
    await Promise.all([deep.stop(), ref.stop(), lag.stop()]);
    const steadyDeep = [...deep.samples.values()];
    const steadyRef = [...ref.samples.values()];
    progress(
      `steady: ${steadyDeep.length} segments at the deepest relay, ${steadyRef.length} at the ingest relay`,
    );
    figures.push(
      ["tree_relays", RELAYS, "processes"],
      ["tree_depth", depth, "levels"],
      ["tree_ingest_avail_p50", quantile(steadyRef, 0.5), "ms"],
      ["tree_ingest_avail_p99", quantile(steadyRef, 0.99), "ms"],
      ["tree_deepest_avail_p50", quantile(steadyDeep, 0.5), "ms"],
      ["tree_deepest_avail_p99", quantile(steadyDeep, 0.99), "ms"],
      [
        "tree_per_hop_p50",
        (quantile(steadyDeep, 0.5) - quantile(steadyRef, 0.5)) / Math.max(1, depth - 1),
        "ms",
      ],
      ["tree_steady_leaf_lag_max", lag.maxLag, "segments"],
    );

    // Kill the deepest relay's depth-2 ancestor (mid-tree: it has a subtree).
    let victimId = deepest.nodeId;
    while ((depthOf(nodes, victimId) ?? 0) > 2) victimId = nodes.get(victimId)?.upstream ?? "";
    const victim = net.relays.find((r) => r.nodeId === victimId);
    if (!victim) throw new Error("no mid-tree ancestor");
    const orphans = children.get(victimId) ?? [];
    deep = new Watcher(urlOf(deepest.nodeId), net.streamId);
    ref = new Watcher(urlOf(ingest.nodeId), net.streamId);
    lag = new LagMonitor(ingestUrls, () => leaves().map((r) => urlOf(r.nodeId)), net.streamId);
    await new Promise((r) => setTimeout(r, 3_000)); // watchers in place before the kill
    const killedAt = Date.now();
    victim.proc.proc.kill("SIGKILL");
    progress(`killed ${victim.name} (depth 2, ${orphans.length} children) with kill -9`);
    const out = new Set([victimId]);
    await waitUntil("the subtree re-parented", () => wholeTree(net, out), 30_000, 100);
    const healMs = Date.now() - killedAt;
    progress(`children re-parented (as the coordinator sees it) ${healMs} ms after the kill`);
    await new Promise((r) => setTimeout(r, Math.max(0, KILL_WINDOW_S * 1_000 - healMs)));
    await Promise.all([deep.stop(), ref.stop(), lag.stop()]);
    const killDeep = [...deep.samples.entries()].filter(([, ms]) => ms >= 0).map(([, ms]) => ms);
    progress(`kill window: ${killDeep.length} segments at the deepest relay`);
    figures.push(
      ["tree_kill_heal", healMs, "ms"],
      ["tree_kill_deepest_avail_p50", quantile(killDeep, 0.5), "ms"],
      ["tree_kill_deepest_avail_p99", quantile(killDeep, 0.99), "ms"],
      ["tree_kill_deepest_avail_max", Math.max(...killDeep), "ms"],
      ["tree_kill_deepest_missed", deep.missed, "segments"],
      ["tree_kill_leaf_lag_max", lag.maxLag, "segments"],
    );
    const measured =
      steadyDeep.length >= STEADY_S / 2 &&
      steadyRef.length >= STEADY_S / 2 &&
      killDeep.length >= KILL_WINDOW_S / 2;
    for (const [name, value, unit] of figures)
      console.log(`RESULT ${name} ${Number(value.toFixed(1))} ${unit}`);
    if (!measured || figures.some(([, v]) => !Number.isFinite(v))) {
      console.error("bench:tree: too few samples to measure");
      process.exitCode = 1;
    }
  } finally {
    await net.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
