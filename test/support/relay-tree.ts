import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startTestSource } from "@streamrp2p/cli";
import { StreamWindowSchema } from "@streamrp2p/protocol";
import {
  originHealthUrl,
  type ServiceProcess,
  startCoordinatorProcess,
  startOriginProcess,
  startRelayProcess,
} from "./processes.ts";
import { requireFfmpeg, tempDir } from "./tools.ts";

/** One relay process with the node id it printed. */
export interface TreeRelay {
  name: string;
  nodeId: string;
  ingest: boolean;
  proc: ServiceProcess;
}

export interface TreeNetwork {
  coordinator: ServiceProcess;
  origin: ServiceProcess;
  source: ChildProcess;
  /** Ingest relays first. */
  relays: TreeRelay[];
  streamId: string;
  stop(): Promise<void>;
}

export interface TreeNetworkOptions {
  /** Relay processes in all, ingest relays included. */
  relays: number;
  /** Relays that take the origin's pushes (the coordinator's default ingestPerStream is 2). */
  ingest: number;
  maxChildren: number;
  heartbeatIntervalMs: number;
  /** Pulling relays started at once (each process compiles the TypeScript sources at start). */
  startConcurrency: number;
  onProgress?: (line: string) => void;
}

const STREAM = "tree";

/**
 * A coordinator, an origin publishing ffmpeg's test source, and `relays`
 * relay processes on 127.0.0.1, each its own OS process. The coordinator keeps
 * every relay carrying the stream (--min-relays-per-stream), so the tree is
 * all of them without viewers.
 */
export async function startTreeNetwork(name: string, o: TreeNetworkOptions): Promise<TreeNetwork> {
  requireFfmpeg();
  const dir = tempDir(name);
  const started: ServiceProcess[] = [];
  let source: ChildProcess | undefined;
  const stop = async () => {
    source?.kill("SIGKILL");
    await Promise.all(started.map((s) => s.stop()));
  };
  const progress = o.onProgress ?? (() => {});
  try {
    const coordinator = await startCoordinatorProcess(dir, [
      "--max-children",
      String(o.maxChildren),
      "--min-relays-per-stream",
      String(o.relays),
    ]);
    started.push(coordinator);
    progress(`coordinator at ${coordinator.url}`);
    const relayArgs = ["--heartbeat-interval-ms", String(o.heartbeatIntervalMs)];
    const startRelay = async (i: number): Promise<TreeRelay> => {
      const ingest = i < o.ingest;
      const name = `${ingest ? "ingest" : "relay"}-${i}`;
      const proc = await startRelayProcess(name, coordinator.url, dir, { ingest, args: relayArgs });
      started.push(proc);
      const nodeId = /relay (0x[0-9a-fA-F]{40})/.exec(proc.output())?.[1]?.toLowerCase();
      if (!nodeId) throw new Error(`${name} printed no address:\n${proc.output()}`);
      return { name, nodeId, ingest, proc };
    };
    const relays = await Promise.all(Array.from({ length: o.ingest }, (_, i) => startRelay(i)));
    progress(`${relays.length} ingest relays up`);
    const keyDir = join(dir, "origin");
    const origin = await startOriginProcess(coordinator.url, STREAM, keyDir);
    started.push(origin);
    const rtmp = origin.url;
    origin.url = originHealthUrl(origin);
    const streamKey = readFileSync(join(keyDir, `${STREAM}.stream-key`), "utf8").trim();
    source = startTestSource({ url: `${rtmp}/${streamKey}` });
    progress("origin up, ffmpeg publishing");
    for (let i = o.ingest; i < o.relays; i += o.startConcurrency) {
      const batch = Array.from({ length: Math.min(o.startConcurrency, o.relays - i) }, (_, k) =>
        startRelay(i + k),
      );
      relays.push(...(await Promise.all(batch)));
      progress(`${relays.length}/${o.relays} relays up`);
    }
    return { coordinator, origin, source, relays, streamId: STREAM, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** What the coordinator knows of one relay for the stream (its last heartbeat). */
export interface TreeNode {
  nodeId: string;
  url: string;
  healthy: boolean;
  /** Upstream node id, null for pushed (ingest), undefined when it does not hold the stream. */
  upstream: string | null | undefined;
  liveEdgeSeq: number;
  viewers: number;
}

interface NodesReply {
  nodes: Array<{
    nodeId: string;
    url: string;
    healthy: boolean;
    load: Array<{ streamId: string; upstream: string | null; liveEdgeSeq: number; viewers: number }>;
  }>;
}

/** The tree as the coordinator's registry shows it. */
export async function treeNodes(coordinatorUrl: string, streamId: string): Promise<Map<string, TreeNode>> {
  const res = await fetch(`${coordinatorUrl}/v1/nodes`, { signal: AbortSignal.timeout(5_000) });
  const body = (await res.json()) as NodesReply;
  return new Map(
    body.nodes.map((n) => {
      const l = n.load.find((x) => x.streamId === streamId);
      return [
        n.nodeId,
        {
          nodeId: n.nodeId,
          url: n.url,
          healthy: n.healthy,
          upstream: l?.upstream,
          liveEdgeSeq: l?.liveEdgeSeq ?? -1,
          viewers: l?.viewers ?? 0,
        },
      ];
    }),
  );
}

/** Depth of each node (ingest = 1) by following reported upstreams; undefined when the chain is broken. */
export function depthOf(nodes: Map<string, TreeNode>, nodeId: string): number | undefined {
  let depth = 1;
  let at = nodes.get(nodeId);
  const seen = new Set<string>();
  while (at?.upstream) {
    if (seen.has(at.nodeId)) return undefined;
    seen.add(at.nodeId);
    at = nodes.get(at.upstream);
    depth += 1;
  }
  return at && at.upstream === null ? depth : undefined;
}

/** Children per upstream, as reported. */
export function childrenOf(nodes: Map<string, TreeNode>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const n of nodes.values()) {
    if (!n.upstream) continue;
    out.set(n.upstream, [...(out.get(n.upstream) ?? []), n.nodeId]);
  }
  return out;
}

/** A relay's newest segment seq, asked of the relay itself (-1 when it holds none or does not answer). */
export async function relayEdge(url: string, streamId: string, timeoutMs = 2_000): Promise<number> {
  try {
    const res = await fetch(`${url}/live/${streamId}/window.json`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (res.status !== 200) return -1;
    const win = StreamWindowSchema.parse(await res.json());
    return Math.max(-1, ...win.segments.map((s) => s.attestation.seq));
  } catch {
    return -1;
  }
}
