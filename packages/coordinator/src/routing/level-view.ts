/**
 * Nodes holding one stream (in one region, one area, or anywhere), bucketed by
 * a routing level in [0, LEVELS) and, inside a level, grouped by operator.
 * Every operation is O(1) in the number of nodes: a request samples the top
 * levels instead of sorting everyone, and samples operators before nodes, so
 * an operator with a thousand nodes is drawn as often as one with one node at
 * the same level (sybils gain no routing weight by splitting).
 */

/** A set with O(1) add, delete and access by position (swap-remove). */
class Bag {
  readonly items: string[] = [];
  readonly #pos = new Map<string, number>();

  get size(): number {
    return this.items.length;
  }

  add(id: string): void {
    if (this.#pos.has(id)) return;
    this.#pos.set(id, this.items.length);
    this.items.push(id);
  }

  delete(id: string): void {
    const i = this.#pos.get(id);
    if (i === undefined) return;
    const last = this.items.pop() as string;
    this.#pos.delete(id);
    if (last !== id) {
      this.items[i] = last;
      this.#pos.set(last, i);
    }
  }
}

/** Levels a view is divided into: routing keys in [0, 1] are quantised to 1/LEVELS. */
export const LEVELS = 16;

interface Level {
  operators: Bag;
  byOperator: Map<string, Bag>;
}

/** The routing level of a key in [0, 1]. */
export function levelOf(key: number): number {
  return Math.min(LEVELS - 1, Math.max(0, Math.floor(key * LEVELS)));
}

export class LevelView {
  readonly #levels: Level[] = Array.from({ length: LEVELS }, () => ({
    operators: new Bag(),
    byOperator: new Map<string, Bag>(),
  }));
  readonly #placed = new Map<string, { level: number; operator: string }>();

  get size(): number {
    return this.#placed.size;
  }

  /** Puts a node at a level (moving it if it was elsewhere). */
  put(nodeId: string, operator: string, level: number): void {
    const at = this.#placed.get(nodeId);
    if (at?.level === level && at.operator === operator) return;
    if (at) this.delete(nodeId);
    const l = this.#levels[level] as Level;
    let group = l.byOperator.get(operator);
    if (!group) {
      group = new Bag();
      l.byOperator.set(operator, group);
      l.operators.add(operator);
    }
    group.add(nodeId);
    this.#placed.set(nodeId, { level, operator });
  }

  delete(nodeId: string): void {
    const at = this.#placed.get(nodeId);
    if (!at) return;
    const l = this.#levels[at.level] as Level;
    const group = l.byOperator.get(at.operator);
    group?.delete(nodeId);
    if (group?.size === 0) {
      l.byOperator.delete(at.operator);
      l.operators.delete(at.operator);
    }
    this.#placed.delete(nodeId);
  }

  /**
   * Offers nodes to `take` from the highest level down until it has accepted
   * `want` or `maxVisits` nodes were offered. Round r offers each operator's
   * r-th node of each level (from a random start), operators in random
   * order: distinct operators come first, a second node of one only when a
   * round found no more. `take` must not change this view.
   */
  sample(want: number, maxVisits: number, random: () => number, take: (nodeId: string) => boolean): void {
    let taken = 0;
    let visits = 0;
    // One random start for the call: round r takes the (start + r)-th node of each group, so
    // rounds offer distinct nodes, and which of an operator's equal nodes comes first varies.
    const offset = random();
    for (let round = 0; taken < want && visits < maxVisits; round++) {
      let offered = false;
      for (let li = LEVELS - 1; li >= 0 && taken < want && visits < maxVisits; li--) {
        const ops = (this.#levels[li] as Level).operators.items;
        if (ops.length === 0) continue;
        const start = Math.floor(random() * ops.length);
        for (let j = 0; j < ops.length && taken < want && visits < maxVisits; j++) {
          const op = ops[(start + j) % ops.length] as string;
          const group = (this.#levels[li] as Level).byOperator.get(op) as Bag;
          if (round >= group.size) continue;
          offered = true;
          visits++;
          const id = group.items[(Math.floor(offset * group.size) + round) % group.size] as string;
          if (take(id)) taken++;
        }
      }
      if (!offered) return;
    }
  }
}
