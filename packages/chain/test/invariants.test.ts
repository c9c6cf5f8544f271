import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { deploymentDomain, distributorAbi, fraudAbi, segmentStruct } from "@streamrp2p/chain";
import { nodeRegistryAbi, rewardPoolsAbi } from "@streamrp2p/contracts";
import { sha256Hex, signDelivery, signSegmentAttestation, streamIdToBytes32 } from "@streamrp2p/protocol";
import fc from "fast-check";
import type { Address, Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, revertName, startHarness } from "./harness.ts";

/**
 * Property test over the real contracts on anvil: random sequences of
 * fund / setBudget / postRoot / voidRoot / claim / stake / unbond / withdraw /
 * slash (with valid and forged proofs) / time, each run from the same chain
 * snapshot. Roots may name their pools in any order, a pool more than once (a root naming a
 * pool twice drew two budgets before the fix), or just one of them; only roots naming each pool
 * once, in increasing pool id order, are accepted. After every step the invariants hold:
 *   - no root drew more from a pool than that pool's budget for the epoch (summed over every
 *     entry naming it), and no pool's balance fell by more than its budget in one post;
 *   - tokens held by the distributor + everything claimed == everything drawn by roots not voided;
 *   - the pools contract holds exactly the sum of its pools' balances;
 *   - no payee has claimed more than its cumulative amount in the newest valid root;
 *   - the registry holds exactly every node's stake + unbonding + forfeited, and stake only
 *     ever falls by the operator's unbond or a slash backed by a valid fraud proof.
 * Fixed seed and a bounded number of runs: the file runs in seconds.
 */
const SEED = 20_261_126;
const RUNS = 50;
const MAX_STEPS = 20;

let h: Harness;
const STREAM = "fuzz";
const signingKey = generatePrivateKey();
const nodeKeys = [generatePrivateKey(), generatePrivateKey()] as const;
const nodes = nodeKeys.map((k) => privateKeyToAccount(k).address);
let pools: Hex[] = [];
let payees: Address[] = [];
let snapshot: Hex;
let seq = 1;
/** Effects that happened across all runs: the property must have exercised each of them. */
const seen = new Set<string>();

beforeAll(async () => {
  h = await startHarness();
  pools = [
    await h.createPool(streamIdToBytes32(STREAM), signingKey, 300n, 1_000n),
    await h.createPool(streamIdToBytes32("other"), generatePrivateKey(), 200n, 500n),
  ];
  for (const k of nodeKeys) await h.register(h.w.operator, k, 1_000n);
  payees = [h.w.payee.account.address, h.w.supporter.account.address, h.w.attacker.account.address];
  snapshot = (await h.client.request({ method: "evm_snapshot" as never, params: [] as never })) as Hex;
}, 60_000);
afterAll(() => h?.stop());

type Action =
  | { kind: "fund"; pool: number; amount: bigint }
  | { kind: "setBudget"; pool: number; budget: bigint }
  | { kind: "postRoot"; permille: number[]; split: number[]; overdraw: boolean; listing: number[] | null }
  | { kind: "voidRoot"; back: number }
  | { kind: "claim"; payee: number; greedy: boolean }
  | { kind: "stake"; node: number; amount: bigint }
  | { kind: "unbond"; node: number; amount: bigint }
  | { kind: "withdraw"; node: number }
  | { kind: "slash"; node: number; valid: boolean }
  | { kind: "time"; seconds: number };

const pool = fc.integer({ min: 0, max: 1 });
const node = fc.integer({ min: 0, max: 1 });
/** Roots, time, voids and claims weigh more: they are what the distributor's invariants are about. */
const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ kind: fc.constant("fund" as const), pool, amount: fc.bigInt({ min: 1n, max: 500n }) }),
  fc.record({ kind: fc.constant("setBudget" as const), pool, budget: fc.bigInt({ min: 0n, max: 400n }) }),
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("postRoot" as const),
      // Per mille of each pool's drawable amount, and the payees' relative shares.
      permille: fc.array(fc.constantFrom(0, 1, 250, 999, 1_000), { minLength: 2, maxLength: 2 }),
      split: fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 3, maxLength: 3 }),
      overdraw: fc.constantFrom(false, false, false, true), // a quarter try to draw past the budget
      // null: both pools once, in increasing id order (what the settler sends); else the pools
      // named in this order, repeats and wrong orders included.
      listing: fc.oneof(
        { weight: 3, arbitrary: fc.constant(null) },
        { weight: 1, arbitrary: fc.array(pool, { minLength: 1, maxLength: 4 }) },
      ),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("voidRoot" as const), back: fc.nat({ max: 2 }) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("claim" as const),
      payee: fc.nat({ max: 2 }),
      greedy: fc.constantFrom(false, false, true), // a third of the claims ask for more than owed
    }),
  },
  fc.record({ kind: fc.constant("stake" as const), node, amount: fc.bigInt({ min: 1n, max: 300n }) }),
  fc.record({ kind: fc.constant("unbond" as const), node, amount: fc.bigInt({ min: 1n, max: 1_500n }) }),
  fc.record({ kind: fc.constant("withdraw" as const), node }),
  fc.record({ kind: fc.constant("slash" as const), node, valid: fc.boolean() }),
  // Inside a dispute window (100 s), just past it, and past the unbonding period (1,000 s).
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant("time" as const), seconds: fc.constantFrom(5, 60, 101, 1_001) }),
  },
);

interface Posted {
  epoch: bigint;
  base: bigint;
  total: bigint;
  /** Each pool's budget for the epoch (budgetOf just before the post: the budget its draws met). */
  budgets: Map<Hex, bigint>;
  leaves: Map<Address, bigint>;
  tree: StandardMerkleTree<[string, string]>;
}

/** What the test knows independently of the contracts' own bookkeeping. */
class Model {
  posted = new Map<bigint, Posted>();
  voided = new Set<bigint>();
  lastValid = 0n;
  latest = 0n;
  stake = [1_000n, 1_000n];
  /** Stake lost to proven fraud, per node (stake and unbonding). */
  slashedByProof = [0n, 0n];

  valid(): Posted | undefined {
    return this.posted.get(this.lastValid);
  }
}

const dist = (fn: string, args: unknown[] = []) => h.read(h.d.distributor, distributorAbi, fn, args);
const poolBalance = async (id: Hex) =>
  ((await h.read(h.d.pools, rewardPoolsAbi, "pools", [id])) as readonly bigint[])[4] ?? 0n;
const reg = (fn: string, args: unknown[] = []) => h.read(h.d.registry, nodeRegistryAbi, fn, args);

/** Runs one action against the chain; reverts must be the ones the rules allow. */
async function step(m: Model, a: Action): Promise<void> {
  switch (a.kind) {
    case "fund":
      await h.send(h.w.supporter, h.d.pools, rewardPoolsAbi, "fund", [pools[a.pool], a.amount]);
      return;
    case "setBudget":
      await h.send(h.w.streamer, h.d.pools, rewardPoolsAbi, "setBudget", [pools[a.pool], a.budget]);
      return;
    case "postRoot": {
      const drawable = await Promise.all(
        pools.map((p) => h.read(h.d.pools, rewardPoolsAbi, "drawable", [p]) as Promise<bigint>),
      );
      const draws = drawable.map((d, i) => {
        return a.overdraw && i === 0 ? d + 1n : (d * BigInt(a.permille[i] ?? 0)) / 1_000n;
      });
      // Which pools the root names, in order; each entry draws that pool's amount above.
      const listing =
        a.listing ?? [0, 1].sort((x, y) => (BigInt(pools[x] ?? 0) < BigInt(pools[y] ?? 0) ? -1 : 1));
      const ids = listing.map((i) => pools[i] as Hex);
      const amounts = listing.map((i) => draws[i] ?? 0n);
      const sorted = ids.every((id, i) => i === 0 || BigInt(id) > BigInt(ids[i - 1] ?? 0));
      const total = amounts.reduce((x, y) => x + y, 0n);
      const weights = a.split.map(BigInt);
      const wsum = weights.reduce((x, y) => x + y, 0n);
      const base = m.valid();
      const leaves = new Map<Address, bigint>(base?.leaves ?? []);
      payees.forEach((p, i) => {
        const share = wsum === 0n ? 0n : (total * (weights[i] ?? 0n)) / wsum;
        leaves.set(p, (leaves.get(p) ?? 0n) + share);
      });
      const tree = StandardMerkleTree.of(
        [...leaves].map(([p, v]): [string, string] => [p, v.toString()]),
        ["address", "uint256"],
      );
      const epoch = m.latest + 1n;
      const budgets = new Map<Hex, bigint>();
      const balancesBefore = new Map<Hex, bigint>();
      for (const p of pools) {
        budgets.set(p, (await h.read(h.d.pools, rewardPoolsAbi, "budgetOf", [p])) as bigint);
        balancesBefore.set(p, await poolBalance(p));
      }
      const why = await revertName(
        h.send(h.w.settler, h.d.distributor, distributorAbi, "postRoot", [
          epoch,
          m.lastValid,
          tree.root,
          ids,
          amounts,
        ]),
      );
      // Refused: an over-draw (the pool named first can meet it before the order check) or the order.
      const overdraws = a.overdraw && listing.includes(0);
      const allowed = [
        ...(overdraws ? ["OverBudget", "Underfunded"] : []),
        ...(sorted ? [] : ["PoolsNotSorted"]),
      ];
      if (why !== "did not revert") {
        expect(allowed).toContain(why);
        if (!sorted) seen.add("unsorted refused");
        return;
      }
      m.posted.set(epoch, { epoch, base: m.lastValid, total, budgets, leaves, tree });
      // No pool gave more than its budget in this post, however the root named it.
      for (const p of pools)
        expect((balancesBefore.get(p) ?? 0n) - (await poolBalance(p))).toBeLessThanOrEqual(
          budgets.get(p) ?? 0n,
        );
      expect(allowed).toEqual([]); // accepted: it had to be within budget and in order
      seen.add("post");
      m.latest = epoch;
      m.lastValid = epoch;
      return;
    }
    case "voidRoot": {
      // One of the last few valid roots.
      let target = m.lastValid;
      for (let i = 0; i < a.back && target !== 0n; i++) target = m.posted.get(target)?.base ?? 0n;
      if (target === 0n) return;
      const cascade = target !== m.lastValid;
      const why = await revertName(h.send(h.w.owner, h.d.distributor, distributorAbi, "voidRoot", [target]));
      if (why !== "did not revert") {
        expect(why).toBe("DisputeWindowOver");
        return;
      }
      for (let e = m.lastValid; ; e = m.posted.get(e)?.base ?? 0n) {
        m.voided.add(e);
        if (e === target) break;
      }
      m.lastValid = m.posted.get(target)?.base ?? 0n;
      seen.add(cascade ? "void cascade" : "void");
      return;
    }
    case "claim": {
      // The newest claimable root that names the payee.
      const who = payees[a.payee] as Address;
      for (let e = m.lastValid; e !== 0n; e = m.posted.get(e)?.base ?? 0n) {
        if (!(await dist("isClaimable", [e]))) continue;
        const r = m.posted.get(e) as Posted;
        const cumulative = r.leaves.get(who) ?? 0n;
        const proof = r.tree.getProof([who, cumulative.toString()]);
        const claimed = (await dist("claimed", [who])) as bigint;
        if (a.greedy) {
          // More than the tree says: refused whatever was claimed before.
          const why = await revertName(
            h.send(h.w.attacker, h.d.distributor, distributorAbi, "claim", [e, who, cumulative + 1n, proof]),
          );
          expect(why).toBe("BadProof");
          return;
        }
        const p = h.send(h.w.attacker, h.d.distributor, distributorAbi, "claim", [e, who, cumulative, proof]);
        if (cumulative <= claimed) expect(await revertName(p)).toBe("NothingToClaim");
        else {
          await p;
          seen.add("claim");
        }
        return;
      }
      return;
    }
    case "stake":
      await h.send(h.w.operator, h.d.registry, nodeRegistryAbi, "addStake", [nodes[a.node], a.amount]);
      m.stake[a.node] = (m.stake[a.node] ?? 0n) + a.amount;
      return;
    case "unbond": {
      const p = h.send(h.w.operator, h.d.registry, nodeRegistryAbi, "unbond", [nodes[a.node], a.amount]);
      if (a.amount > (m.stake[a.node] ?? 0n)) {
        expect(await revertName(p)).toBe("InsufficientStake");
        return;
      }
      await p;
      m.stake[a.node] = (m.stake[a.node] ?? 0n) - a.amount;
      return;
    }
    case "withdraw": {
      const why = await revertName(
        h.send(h.w.operator, h.d.registry, nodeRegistryAbi, "withdraw", [nodes[a.node]]),
      );
      expect(["did not revert", "NothingToWithdraw", "StillUnbonding"]).toContain(why);
      return;
    }
    case "slash": {
      const n = seq++;
      const domain = deploymentDomain(h.chain.chainId, h.d);
      const att = await signSegmentAttestation(
        privateKeyToAccount(a.valid ? signingKey : generatePrivateKey()),
        domain,
        {
          streamId: STREAM,
          rendition: "main",
          seq: n,
          initVersion: 0,
          sha256: sha256Hex(Buffer.from(`true ${n}`)),
          byteLength: 10,
          durationMs: 1000,
          producedAt: n,
        },
      );
      const served = sha256Hex(Buffer.from(`tampered ${n}`));
      const nodeSig = await signDelivery(privateKeyToAccount(nodeKeys[a.node] as Hex), domain, att, served);
      const before = (await reg("nodes", [nodes[a.node]])) as readonly [Address, bigint, bigint, bigint];
      const bound = (await h.read(h.d.pools, rewardPoolsAbi, "signerOf", [
        streamIdToBytes32(STREAM),
      ])) as Address;
      const p = h.send(h.w.attacker, h.d.fraudProof, fraudAbi, "prove", [
        segmentStruct(att),
        att.signature,
        nodes[a.node],
        served,
        nodeSig,
      ]);
      // Valid evidence slashes once the stream's key is bound (the settler's first draw); nothing else does.
      if (!a.valid || /^0x0{40}$/.test(bound)) {
        expect(await revertName(p)).toBe("NotStreamSigner");
        return;
      }
      await p;
      const slashedStake = (before[2] * 5_000n) / 10_000n;
      m.stake[a.node] = (m.stake[a.node] ?? 0n) - slashedStake;
      m.slashedByProof[a.node] = (m.slashedByProof[a.node] ?? 0n) + slashedStake;
      seen.add("slash");
      return;
    }
    case "time":
      await h.timeTravel(a.seconds);
      return;
  }
}

async function checkInvariants(m: Model): Promise<void> {
  // Every root (voided ones too) drew at most each pool's budget for its epoch, all entries together.
  for (const [e, r] of m.posted) {
    const [ids, amounts] = (await dist("drawsOf", [e])) as readonly [readonly Hex[], readonly bigint[]];
    const perPool = new Map<Hex, bigint>();
    ids.forEach((id, i) => {
      perPool.set(id, (perPool.get(id) ?? 0n) + (amounts[i] ?? 0n));
    });
    for (const [id, drew] of perPool) expect(drew).toBeLessThanOrEqual(r.budgets.get(id) ?? 0n);
    expect([...perPool.values()].reduce((x, y) => x + y, 0n)).toBe(r.total);
  }
  // Distributor: held + claimed == drawn by roots still valid.
  let drawn = 0n;
  for (const [e, r] of m.posted) if (!m.voided.has(e)) drawn += r.total;
  let claimedTotal = 0n;
  const newest = m.valid();
  for (const p of payees) {
    const claimed = (await dist("claimed", [p])) as bigint;
    claimedTotal += claimed;
    // Nobody ever claimed more than the newest valid tree gives it.
    expect(claimed).toBeLessThanOrEqual(newest?.leaves.get(p) ?? 0n);
  }
  expect((await h.balance(h.d.distributor)) + claimedTotal).toBe(drawn);
  expect(await dist("lastValidEpoch")).toBe(m.lastValid);
  // Pools: the contract holds exactly its pools' balances.
  let inPools = 0n;
  for (const id of pools) inPools += await poolBalance(id);
  expect(await h.balance(h.d.pools)).toBe(inPools);
  // Registry: stake as the model says (only unbond and proven fraud lower it), and every token accounted for.
  let inRegistry = (await reg("forfeited")) as bigint;
  for (const [i, n] of nodes.entries()) {
    const [, , stake, unbonding] = (await reg("nodes", [n])) as readonly [Address, bigint, bigint, bigint];
    expect(stake).toBe(m.stake[i]);
    expect(stake).toBeGreaterThanOrEqual(0n);
    inRegistry += stake + unbonding;
  }
  expect(await h.balance(h.d.registry)).toBe(inRegistry);
}

describe("settlement invariants (fast-check over anvil)", () => {
  it("hold after every step of random fund/setBudget/postRoot/voidRoot/claim/stake/unbond/slash sequences", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: MAX_STEPS }), async (actions) => {
        await h.client.request({ method: "evm_revert" as never, params: [snapshot] as never });
        snapshot = (await h.client.request({ method: "evm_snapshot" as never, params: [] as never })) as Hex;
        const m = new Model();
        // The chain's epochs and roots start where the snapshot left them.
        m.latest = (await dist("latestEpoch")) as bigint;
        for (const a of actions) {
          await step(m, a);
          await checkInvariants(m);
        }
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    expect([...seen].sort()).toEqual(["claim", "post", "slash", "unsorted refused", "void", "void cascade"]);
  }, 120_000);
});
