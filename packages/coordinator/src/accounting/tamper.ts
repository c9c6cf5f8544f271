import type { TamperFlag } from "../store.ts";

/**
 * What evidence says about a node on one stream. "proven": the node's own
 * delivery signature contradicts the attestation it names (what
 * FraudProof.prove slashes on); it counts for that stream for ever.
 * "suspect": a viewer's report without such a proof; anyone holding a ticket
 * can send one, so it only demotes the node on that stream, and only until it
 * expires (COORDINATOR_DEFAULTS.evidenceTtlMs).
 */
export type TamperState = "proven" | "suspect";

const key = (nodeId: string, streamId: string) => `${nodeId}/${streamId}`;

/** The evidence that counts at one moment, by (node, stream). Streams never leak into each other. */
export class TamperIndex {
  readonly #state = new Map<string, TamperState>();
  readonly #provenNodes = new Set<string>();

  constructor(flags: TamperFlag[] = []) {
    for (const f of flags) {
      this.#state.set(key(f.nodeId, f.streamId), f.proven ? "proven" : "suspect");
      if (f.proven) this.#provenNodes.add(f.nodeId);
    }
  }

  of(nodeId: string, streamId: string): TamperState | undefined {
    return this.#state.get(key(nodeId, streamId));
  }

  /** For the node's overview (GET /v1/nodes/:id/score): a proof on some stream. */
  provenOnAnyStream(nodeId: string): boolean {
    return this.#provenNodes.has(nodeId);
  }

  /** The proven (node, stream) pairs, sorted: published with an epoch's inputs. */
  provenPairs(): Array<[string, string]> {
    return [...this.#state]
      .filter(([, s]) => s === "proven")
      .map(([k]) => k.split("/") as [string, string])
      .sort((a, b) => a[0].localeCompare(b[0]) || a[1].localeCompare(b[1]));
  }
}
