import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  type ServiceProcess,
  startCoordinatorProcess,
  startOriginProcess,
  startRelayProcess,
} from "../../test/support/processes.ts";
import { depthOf, treeNodes } from "../../test/support/relay-tree.ts";
import { requireFfmpeg, tempDir, waitUntil } from "../../test/support/tools.ts";
import { type StampedSource, startStampedSource } from "./stamped-source.ts";

/** One relay of the chain, and how many pulling relays stand between it and the origin's push. */
export interface ChainRelay {
  name: string;
  nodeId: string;
  url: string;
  region: string;
  /** 0: the ingest relay the origin pushes to; 1: a relay pulling from it; 2: one pulling from that. */
  pullHops: number;
  proc: ServiceProcess;
}

export interface Chain {
  coordinator: ServiceProcess;
  origin: ServiceProcess;
  source: StampedSource;
  relays: ChainRelay[];
  streamId: string;
  stop(): Promise<void>;
}

const STREAM = "g2g";
const HEARTBEAT_MS = 500; // relays report their load (and the tree its shape) this often

function nodeIdOf(p: ServiceProcess): string {
  const id = /relay (0x[0-9a-fA-F]{40})/.exec(p.output())?.[1];
  if (!id) throw new Error(`${p.name} printed no node id:\n${p.output()}`);
  return id.toLowerCase();
}

/**
 * Coordinator, origin, and three relays in one line — ingest → pull-1 → pull-2
 * — each its own process on 127.0.0.1: one ingest-capable relay and
 * `--max-children 1` leave the coordinator no other tree, and
 * `--min-relays-per-stream 2` keeps both pulling relays carrying the stream
 * without viewers of their own. The origin is fed by the stamped source.
 */
export async function startChain(progress: (line: string) => void): Promise<Chain> {
  requireFfmpeg();
  const dir = tempDir("g2g");
  const started: ServiceProcess[] = [];
  let source: StampedSource | undefined;
  const stop = async () => {
    source?.stop();
    await Promise.all(started.map((s) => s.stop()));
  };
  try {
    const coordinator = await startCoordinatorProcess(dir, [
      "--max-children",
      "1",
      "--min-relays-per-stream",
      "2",
    ]);
    started.push(coordinator);
    const relayArgs = ["--heartbeat-interval-ms", String(HEARTBEAT_MS)];
    const ingest = await startRelayProcess("ingest", coordinator.url, dir, { ingest: true, args: relayArgs });
    started.push(ingest);
    const keyDir = join(dir, "origin");
    const origin = await startOriginProcess(coordinator.url, STREAM, keyDir);
    started.push(origin);
    const key = readFileSync(join(keyDir, `${STREAM}.stream-key`), "utf8").trim();
    source = startStampedSource({ url: `${origin.url}/${key}` });
    progress("coordinator, ingest relay and origin up; stamped source publishing");
    // One at a time: pull-2 can only hang under pull-1 once pull-1 carries the stream.
    const pulling: ServiceProcess[] = [];
    for (const name of ["pull-1", "pull-2"]) {
      const p = await startRelayProcess(name, coordinator.url, dir, { args: relayArgs });
      started.push(p);
      pulling.push(p);
      const id = nodeIdOf(p);
      await waitUntil(
        `${name} to carry the stream`,
        async () => ((await treeNodes(coordinator.url, STREAM)).get(id)?.liveEdgeSeq ?? -1) >= 1 || undefined,
        30_000,
        250,
      );
    }
    const procs = [ingest, ...pulling];
    const relays = await waitUntil(
      "the chain ingest → pull-1 → pull-2",
      async () => {
        const nodes = await treeNodes(coordinator.url, STREAM);
        const out = procs.map((proc, i) => {
          const nodeId = nodeIdOf(proc);
          return { proc, nodeId, depth: depthOf(nodes, nodeId), expected: i + 1 };
        });
        return out.every((r) => r.depth === r.expected) ? out : undefined;
      },
      30_000,
      250,
    );
    const regions = await nodeRegions(coordinator.url);
    return {
      coordinator,
      origin,
      source,
      relays: relays.map((r) => ({
        name: r.proc.name,
        nodeId: r.nodeId,
        url: r.proc.url,
        region: regions.get(r.nodeId) ?? "",
        pullHops: r.expected - 1,
        proc: r.proc,
      })),
      streamId: STREAM,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function nodeRegions(coordinatorUrl: string): Promise<Map<string, string>> {
  const res = await fetch(`${coordinatorUrl}/v1/nodes`, { signal: AbortSignal.timeout(5_000) });
  const body = (await res.json()) as { nodes: Array<{ nodeId: string; region?: string }> };
  return new Map(body.nodes.map((n) => [n.nodeId, n.region ?? ""]));
}
