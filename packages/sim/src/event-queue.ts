/** One scheduled happening on the virtual clock. */
interface Entry {
  at: number; // ms, virtual
  order: number;
  run: () => void;
}

/**
 * The discrete-event core: a binary min-heap of events by time (ties in
 * scheduling order, so runs are deterministic) and the virtual clock they
 * advance. Nothing in a run reads the wall clock for its logic.
 */
export class EventQueue {
  readonly #heap: Entry[] = [];
  #order = 0;
  #now = 0;

  constructor(start = 0) {
    this.#now = start;
  }

  /** The virtual time, ms. Injected into every production component as `now`. */
  readonly now = (): number => this.#now;

  get size(): number {
    return this.#heap.length;
  }

  at(at: number, run: () => void): void {
    const e = { at: Math.max(at, this.#now), order: this.#order++, run };
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(e, h[p] as Entry)) break;
      h[i] = h[p] as Entry;
      i = p;
    }
    h[i] = e;
  }

  after(delayMs: number, run: () => void): void {
    this.at(this.#now + delayMs, run);
  }

  /** Runs a callback every `periodMs` from `first` until the queue is run past `until`. */
  every(first: number, periodMs: number, until: number, run: () => void): void {
    const tick = (at: number) => {
      if (at > until) return;
      this.at(at, () => {
        run();
        tick(at + periodMs);
      });
    };
    tick(first);
  }

  /** Runs events in time order up to and including `until` (ms); the clock ends at `until`. */
  run(until: number): void {
    const h = this.#heap;
    while (h.length > 0 && (h[0] as Entry).at <= until) {
      const top = h[0] as Entry;
      const last = h.pop() as Entry;
      if (h.length > 0) {
        h[0] = last;
        this.#down(0);
      }
      this.#now = top.at;
      top.run();
    }
    this.#now = Math.max(this.#now, until);
  }

  #down(i: number): void {
    const h = this.#heap;
    const e = h[i] as Entry;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && before(h[r] as Entry, h[l] as Entry) ? r : l;
      if (!before(h[c] as Entry, e)) break;
      h[i] = h[c] as Entry;
      i = c;
    }
    h[i] = e;
  }
}

const before = (a: Entry, b: Entry) => a.at < b.at || (a.at === b.at && a.order < b.order);
