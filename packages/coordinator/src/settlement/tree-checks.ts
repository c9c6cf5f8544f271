import { BaseError, ContractFunctionRevertedError } from "viem";

type Leaf = [string, string];

/** Cumulative amount per payee in a stored settlement tree (none without a settlement). */
export function amountsOf(row: { tree: string } | undefined): Map<string, bigint> {
  if (!row) return new Map();
  const dump = JSON.parse(row.tree) as { values: Array<{ value: Leaf }> };
  return new Map(dump.values.map((v) => [v.value[0], BigInt(v.value[1])]));
}

/**
 * Whether a tree is solvent on `base` (the newest valid root's amounts): it
 * takes nothing back from any payee, and pays no more on top of `base` than
 * its own draws bring in. By induction over roots, that keeps everything
 * claimable within what the distributor holds.
 */
export function isSolventOn(row: { tree: string; draws: string }, base: Map<string, bigint>): boolean {
  const tree = amountsOf(row);
  for (const [who, v] of base) if ((tree.get(who) ?? 0n) < v) return false;
  const sum = (m: Iterable<bigint>) => [...m].reduce((a, b) => a + b, 0n);
  const draws = Object.values(JSON.parse(row.draws) as Record<string, string>).map(BigInt);
  return sum(tree.values()) - sum(base.values()) <= sum(draws);
}

/** The revert a contract call ended with, or undefined for any other failure (network, timeout). */
export function revertOf(err: unknown): ContractFunctionRevertedError | undefined {
  if (!(err instanceof BaseError)) return undefined;
  const found = err.walk((e) => e instanceof ContractFunctionRevertedError);
  return found instanceof ContractFunctionRevertedError ? found : undefined;
}
