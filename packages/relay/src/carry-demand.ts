/**
 * When each stream was last wanted on this relay: named in the coordinator's
 * `carry` list, or requested by a viewer or a child relay. A pulled stream
 * nobody wanted for `graceMs` is torn down (see RELAY_DEFAULTS.carryGraceMs).
 * Entries exist only for streams the relay holds or pulls, so request paths
 * with made-up ids cannot grow it.
 */
export class CarryDemand {
  readonly #last = new Map<string, number>();
  readonly #graceMs: number;
  readonly #now: () => number;

  constructor(graceMs: number, now: () => number) {
    this.#graceMs = graceMs;
    this.#now = now;
  }

  /** The stream is wanted now. */
  touch(streamId: string): void {
    this.#last.set(streamId, this.#now());
  }

  /** True once nothing wanted the stream for the grace period (or never). */
  expired(streamId: string): boolean {
    const at = this.#last.get(streamId);
    return at === undefined || this.#now() - at >= this.#graceMs;
  }

  /** Keeps only the streams `held` says the relay still has. */
  retain(held: (streamId: string) => boolean): void {
    for (const id of this.#last.keys()) if (!held(id)) this.#last.delete(id);
  }
}
