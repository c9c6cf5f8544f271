import type { FailureKind, NodePool, PoolNode } from "./node-pool.ts";

/** Why one attempt on one node failed. */
export class AttemptError extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
  ) {
    super(message);
  }
}

export interface Attempted<T> {
  node: PoolNode;
  value: T;
  /** Failed attempts before this one (for hls.js's stats.retry). */
  failures: Array<{ nodeId: string; kind: FailureKind; message: string }>;
}

export class AllNodesFailed extends Error {
  constructor(readonly failures: Array<{ nodeId: string; kind: FailureKind; message: string }>) {
    super(
      `all ${failures.length} nodes failed: ${failures.map((f) => `${f.nodeId.slice(0, 10)} ${f.kind}`).join(", ")}`,
    );
  }
}

/**
 * Runs `attempt` on each node in the pool's order until one succeeds. Every
 * failure penalizes its node; only when every node has failed does the
 * caller see an error. `signal` aborts the whole thing (hls.js abort()).
 */
export async function fetchWithFailover<T>(
  pool: NodePool,
  attempt: (node: PoolNode) => Promise<T>,
  options: {
    penaltyMs: number;
    signal?: AbortSignal;
    onFailure?: (node: PoolNode, err: AttemptError) => void;
  },
): Promise<Attempted<T>> {
  const failures: Attempted<T>["failures"] = [];
  for (const node of pool.order()) {
    if (options.signal?.aborted) throw new DOMException("aborted", "AbortError");
    try {
      return { node, value: await attempt(node), failures };
    } catch (err) {
      if (options.signal?.aborted) throw new DOMException("aborted", "AbortError");
      const e = err instanceof AttemptError ? err : new AttemptError("network", String(err));
      failures.push({ nodeId: node.nodeId, kind: e.kind, message: e.message });
      pool.penalize(node.nodeId, e.kind, options.penaltyMs);
      options.onFailure?.(node, e);
    }
  }
  throw new AllNodesFailed(failures);
}
