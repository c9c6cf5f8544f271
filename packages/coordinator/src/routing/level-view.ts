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

interface Group {
  operator: string;
  nodes: Bag;
}

/** One level: its operators' groups, in an array for O(1) random access (swap-remove). */
class Level {
  readonly groups: Group[] = [];
  readonly #pos = new Map<string, number>();

  group(operator: string): Group | undefined {
    const i = this.#pos.get(operator);
    return i === undefined ? undefined : this.groups[i];
  }

  add(operator: string): Group {
    const g = { operator, nodes: new Bag() };
    this.#pos.set(operator, this.groups.length);
    this.groups.push(g);
    return g;
  }

  delete(operator: string): void {
    const i = this.#pos.get(operator);
    if (i === undefined) return;
    const last = this.groups.pop() as Group;
    this.#pos.delete(operator);
    if (last.operator !== operator) {
      this.groups[i] = last;
      this.#pos.set(last.operator, i);
    }
  }
}

/** The routing level of a key in [0, 1]. */
export function levelOf(key: number): number {
  return Math.min(LEVELS - 1, Math.max(0, Math.floor(key * LEVELS)));
}

export class LevelView {
  readonly #levels: Level[] = Array.from({ length: LEVELS }, () => new Level());
  readonly #placed = new Map<string, { level: number; operator: string }>();
  /** Bit l set when level l holds a node: sampling skips empty levels without looking. */
  #occupied = 0;

  get size(): number {
    return this.#placed.size;
  }

  /** Puts a node at a level (moving it if it was elsewhere). */
  put(nodeId: string, operator: string, level: number): void {
    const at = this.#placed.get(nodeId);
    if (at?.level === level && at.operator === operator) return;
    if (at) this.delete(nodeId);
    const l = this.#levels[level] as Level;
    (l.group(operator) ?? l.add(operator)).nodes.add(nodeId);
    this.#occupied |= 1 << level;
    this.#placed.set(nodeId, { level, operator });
  }

  delete(nodeId: string): void {
    const at = this.#placed.get(nodeId);
    if (!at) return;
    const l = this.#levels[at.level] as Level;
    const group = l.group(at.operator);
    group?.nodes.delete(nodeId);
    if (group?.nodes.size === 0) l.delete(at.operator);
    if (l.groups.length === 0) this.#occupied &= ~(1 << at.level);
    this.#placed.delete(nodeId);
  }

  /**
   * Offers nodes to `take` from the highest level down until it has accepted
   * `want` or `maxVisits` nodes were offered. Round r offers each operator's
   * r-th node of each level (from a random start), operators in random
   * order: distinct operators come first, a second node of one only when a
   * round found no more. Every operator looked at counts as a visit, so the
   * work is bounded by `maxVisits` whatever the view holds. `take` must not
   * change this view.
   */
  sample(want: number, maxVisits: number, random: () => number, take: (nodeId: string) => boolean): void {
    let taken = 0;
    let visits = 0;
    // One random start for the call: round r takes the (start + r)-th node of each group, so
    // rounds offer distinct nodes, and which of an operator's equal nodes comes first varies.
    const offset = random();
    for (let round = 0; taken < want && visits < maxVisits; round++) {
      let offered = false;
      for (let left = this.#occupied; left !== 0 && taken < want && visits < maxVisits; ) {
        const li = 31 - Math.clz32(left); // the highest occupied level not yet looked at
        left &= ~(1 << li);
        const groups = (this.#levels[li] as Level).groups;
        const start = Math.floor(random() * groups.length);
        for (let j = 0; j < groups.length && taken < want && visits < maxVisits; j++) {
          const nodes = (groups[(start + j) % groups.length] as Group).nodes;
          visits++;
          if (round >= nodes.size) continue;
          offered = true;
          const id = nodes.items[(Math.floor(offset * nodes.size) + round) % nodes.size] as string;
          if (take(id)) taken++;
        }
      }
      if (!offered) return;
    }
  }
}
