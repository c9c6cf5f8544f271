import { distributorAbi } from "@streamrp2p/chain";
import { nodeRegistryAbi, rewardPoolsAbi } from "@streamrp2p/contracts";
import { streamIdToBytes32 } from "@streamrp2p/protocol";
import { createLogger } from "@streamrp2p/service";
import type { Address, Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, revertName, startHarness } from "../../chain/test/harness.ts";
import type { AccountingStore, SettlementRow } from "../src/accounting/store.ts";
import { sortedPoolDraws } from "../src/settlement/pool-gate.ts";
import { ABANDONED, type SettlementConfig, Settler } from "../src/settlement/settler.ts";
import { SqliteStore } from "../src/sqlite-store.ts";

/**
 * The real settler against the real contracts on anvil, with the attacks of
 * audit issue 11 that target settlement: a squatted pool, a streamer cutting
 * its budget between compute and post, and a voided root. Hostile parties act
 * through a store wrapper that fires between the settler's compute and its
 * transaction — the one moment those attacks need.
 */
let h: Harness;
let store: SqliteStore;
let settler: Settler;
const logs: Array<Record<string, unknown>> = [];
/** Runs once, right after the settler stores an epoch's tree and before it posts it. */
let betweenComputeAndPost: ((row: SettlementRow) => Promise<void>) | undefined;

const signing = { good: generatePrivateKey(), cutter: generatePrivateKey(), squat: generatePrivateKey() };
const squatter = generatePrivateKey();
const nodeKeys = [generatePrivateKey(), generatePrivateKey()];
const nodes = nodeKeys.map((k) => privateKeyToAccount(k).address.toLowerCase());
const pools: Record<string, Hex> = {};

beforeAll(async () => {
  h = await startHarness();
  store = new SqliteStore(":memory:");
  await store.migrate();
  for (const [streamId, key] of Object.entries(signing))
    await store.insertStream({
      streamId,
      signer: privateKeyToAccount(key).address.toLowerCase(),
      createdAt: 0,
      ingest: [],
    });
  pools.good = await h.createPool(streamIdToBytes32("good"), signing.good, 100n, 10_000n);
  pools.cutter = await h.createPool(streamIdToBytes32("cutter"), signing.cutter, 100n, 10_000n);
  // "squat" has only the attacker's pool, under the attacker's own key.
  pools.squat = await h.createPool(streamIdToBytes32("squat"), squatter, 100n, 500n, h.w.attacker);
  // Node 0: registered by the operator (with its consent), a supporter backs it for 25 %.
  await h.register(h.w.operator, nodeKeys[0] as Hex, 1_000n);
  await h.send(h.w.operator, h.d.registry, nodeRegistryAbi, "setBackers", [
    nodes[0],
    [h.w.supporter.account.address],
    [2_500],
  ]);
  // Node 1 is on no registry: it is paid to its own key.
  const hostile: AccountingStore = new Proxy(store.accounting, {
    get(target, prop, receiver) {
      if (prop !== "putSettlement") return Reflect.get(target, prop, receiver);
      return async (row: SettlementRow) => {
        const stored = await target.putSettlement(row);
        const act = betweenComputeAndPost;
        if (row.txHash === null && act) {
          betweenComputeAndPost = undefined;
          await act(row);
        }
        return stored;
      };
    },
  });
  settler = new Settler(
    hostile,
    settlementConfig(),
    createLogger("settler", { write: (line) => logs.push(JSON.parse(line) as Record<string, unknown>) }),
    async (streamId) => (await store.getStream(streamId))?.signer,
  );
}, 60_000);
afterAll(async () => {
  await h?.stop();
});

/** The dev chain's real deployment, settled with the settler role's key. */
function settlementConfig(): SettlementConfig {
  return {
    rpcUrl: h.chain.rpcUrl,
    chainId: h.chain.chainId,
    settlerKey: h.chain.keys[1] as Hex,
    deployment: h.d,
  };
}

/** Closes epoch `n` with credits on `streams`: both nodes serve each, node 0 three times as much. */
async function closeEpoch(n: number, streams: string[]) {
  const credits = streams.flatMap((streamId) =>
    nodes.map((nodeId, i) => ({
      epoch: n,
      nodeId,
      streamId,
      creditedBytes: 1000,
      claimedBytes: 1000,
      sessions: 1,
      subnets: 1,
      quality: 1,
      weight: i === 0 ? 3_000 : 1_000,
      flags: [],
    })),
  );
  await store.accounting.closeEpoch(
    { epoch: n, startsAt: n * 1000, endsAt: (n + 1) * 1000, closedAt: (n + 1) * 1000, inputs: "{}" },
    credits,
    new Map(),
  );
}

const read = (fn: string, args: unknown[] = []) => h.read(h.d.distributor, distributorAbi, fn, args);
const poolBalance = async (id: Hex) =>
  ((await h.read(h.d.pools, rewardPoolsAbi, "pools", [id])) as readonly unknown[])[4] as bigint;
const payees = () => [h.w.operator.account.address, h.w.supporter.account.address, nodes[1] as Address];

/** What the distributor still owes: every payee's cumulative in the newest valid root, less what it claimed. */
async function owed(): Promise<bigint> {
  const last = Number(await read("lastValidEpoch"));
  let total = 0n;
  for (const a of payees()) {
    const p = await settler.proof(last, a).catch(() => undefined);
    const claimed = (await read("claimed", [a])) as bigint;
    if (p && BigInt(p.cumulative) > claimed) total += BigInt(p.cumulative) - claimed;
  }
  return total;
}

async function expectSolvent() {
  expect(await h.balance(h.d.distributor)).toBeGreaterThanOrEqual(await owed());
}

describe("settler under attack", () => {
  it("never draws from a squatter's pool: the stream is left out with a logged reason, the others settle", async () => {
    await closeEpoch(1, ["good", "squat"]);
    const root = await settler.settle(1);
    expect(root).toBeDefined();
    expect((await settler.settlement(1)).draws).toEqual({ good: "100" });
    expect(await poolBalance(pools.squat as Hex)).toBe(500n);
    expect(logs).toContainEqual(
      expect.objectContaining({
        msg: "stream left out of the epoch",
        streamId: "squat",
        reason: "no pool for the registered signing key",
      }),
    );
    // The squat blocked nobody: the stream's own key creates its pool; the stream's fraud-proof key is unbound.
    pools.squatReal = await h.createPool(streamIdToBytes32("squat"), signing.squat, 100n, 100n);
    expect(await h.read(h.d.pools, rewardPoolsAbi, "signerOf", [streamIdToBytes32("squat")])).toMatch(
      /^0x0{40}$/,
    );
    await expectSolvent();
  });

  it("a streamer cutting its budget to 0 between compute and post halts nothing; later epochs settle for the others", async () => {
    await closeEpoch(2, ["good", "cutter"]);
    await closeEpoch(3, ["good", "cutter"]);
    await closeEpoch(4, ["good", "cutter"]);
    betweenComputeAndPost = async () => {
      await h.send(h.w.streamer, h.d.pools, rewardPoolsAbi, "setBudget", [pools.cutter, 0n]);
    };
    await settler.settlePending([2, 3, 4]);
    expect(betweenComputeAndPost).toBeUndefined(); // the cut happened
    // Epoch 2 was computed before the cut: it draws at the budget then in force; 3 and 4 leave the stream out.
    expect((await settler.settlement(2)).draws).toEqual({ good: "100", cutter: "100" });
    // Each pool once, in increasing pool id order (the distributor refuses anything else).
    const [ids] = (await read("drawsOf", [2n])) as readonly [readonly Hex[], readonly bigint[]];
    expect(ids).toEqual(
      [pools.good, pools.cutter].sort((a, b) => (BigInt(a as Hex) < BigInt(b as Hex) ? -1 : 1)),
    );
    expect((await settler.settlement(3)).draws).toEqual({ good: "100" });
    expect((await settler.settlement(4)).draws).toEqual({ good: "100" });
    expect(await read("latestEpoch")).toBe(4n);
    expect(logs).toContainEqual(
      expect.objectContaining({ msg: "stream left out of the epoch", streamId: "cutter", epoch: 3 }),
    );
    await expectSolvent();
  });

  it("voiding a root: the next epoch builds on the newest valid root, every payee claims, the distributor stays solvent", async () => {
    const before4 = new Map<string, bigint>();
    for (const a of payees()) before4.set(a.toLowerCase(), BigInt((await settler.proof(4, a)).cumulative));
    await closeEpoch(5, ["good"]);
    await settler.settle(5);
    await expectSolvent();
    const poolBefore = await poolBalance(pools.good as Hex);
    await h.send(h.w.owner, h.d.distributor, distributorAbi, "voidRoot", [5n]);
    expect(await poolBalance(pools.good as Hex)).toBe(poolBefore + 100n);
    await expectSolvent();
    await closeEpoch(6, ["good"]);
    await settler.settle(6);
    // Epoch 6's tree = epoch 4's + epoch 6's rewards (epoch 5's are gone with its root).
    const reward = { operator: 57n, supporter: 18n, node1: 25n }; // 100 by weight 3:1; node 0: 75 - 18 (25 %, rounded down)
    const expected = [reward.operator, reward.supporter, reward.node1];
    for (const [i, a] of payees().entries())
      expect(BigInt((await settler.proof(6, a)).cumulative)).toBe(
        (before4.get(a.toLowerCase()) ?? 0n) + (expected[i] ?? 0n),
      );
    await expectSolvent();
  });

  it("a root voided between compute and post: that epoch is given up, later epochs settle on the valid root", async () => {
    await closeEpoch(7, ["good"]);
    await settler.settle(7);
    await closeEpoch(8, ["good"]);
    await closeEpoch(9, ["good"]);
    betweenComputeAndPost = async () => {
      await h.send(h.w.owner, h.d.distributor, distributorAbi, "voidRoot", [7n]);
    };
    // Epoch 8's tree was built on 7, which is voided before it is sent: the chain refuses it (StaleBase).
    expect(await revertName(settler.settlePending([8, 9]))).toBe("StaleBase");
    await settler.settlePending([8, 9]);
    expect((await settler.settlement(8)).txHash).toBe(ABANDONED);
    expect(logs).toContainEqual(expect.objectContaining({ msg: "epoch settlement given up", epoch: 8 }));
    const r9 = (await read("roots", [9n])) as readonly unknown[];
    expect(r9[3]).toBe(6n); // built on epoch 6
    await expectSolvent();

    // After the dispute window every payee claims everything owed; the distributor keeps only rounding dust.
    await h.timeTravel(101);
    const drawnValid = [1n, 2n, 3n, 4n, 6n, 9n];
    let drawn = 0n;
    for (const e of drawnValid) drawn += ((await read("roots", [e])) as readonly unknown[])[4] as bigint;
    let paid = 0n;
    for (const a of payees()) {
      const p = await settler.proof(9, a);
      const before = await h.balance(a);
      await h.send(h.w.payee, h.d.distributor, distributorAbi, "claim", [
        9n,
        a,
        BigInt(p.cumulative),
        p.proof,
      ]);
      expect((await h.balance(a)) - before).toBe(BigInt(p.cumulative));
      paid += BigInt(p.cumulative);
      await expectSolvent();
    }
    expect(await owed()).toBe(0n);
    expect(paid + (await h.balance(h.d.distributor))).toBe(drawn);
  });
});

describe("settler: the signing domain it announces is the chain's (issue 11, finding 6)", () => {
  const configured = (over: Partial<SettlementConfig>) =>
    new Settler(
      store.accounting,
      { ...settlementConfig(), ...over },
      createLogger("settler", { write: () => {} }),
      async () => undefined,
    );

  it("accepts the real deployment, and refuses a config whose chain id or FraudProof address is not the chain's (every proof would fail on chain)", async () => {
    await expect(configured({}).checkDomain()).resolves.toBeUndefined();
    await expect(configured({ chainId: h.chain.chainId + 1 }).checkDomain()).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
    });
    await expect(
      configured({ deployment: { ...h.d, fraudProof: h.d.distributor } }).checkDomain(),
    ).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
  });
});

describe("settler: one draw per pool per root", () => {
  it("sends each pool once, in increasing pool id order, whatever order the epoch lists its streams in", async () => {
    // Streams "good" and "squat" (its real pool, 100 left): the stream whose pool id is higher is
    // served by the node whose id sorts first, so the epoch's credits, and the settlement's draws,
    // list it first.
    const [hiStream, loStream] =
      BigInt(pools.good as Hex) > BigInt(pools.squatReal as Hex) ? ["good", "squat"] : ["squat", "good"];
    const [firstNode, secondNode] = [...nodes].sort();
    const credit = (nodeId: string | undefined, streamId: string) => ({
      epoch: 10,
      nodeId: nodeId as string,
      streamId,
      creditedBytes: 1000,
      claimedBytes: 1000,
      sessions: 1,
      subnets: 1,
      quality: 1,
      weight: 1_000,
      flags: [],
    });
    await store.accounting.closeEpoch(
      { epoch: 10, startsAt: 10_000, endsAt: 11_000, closedAt: 11_000, inputs: "{}" },
      [credit(firstNode, hiStream), credit(secondNode, loStream)],
      new Map(),
    );
    const poolsBefore = {
      good: await poolBalance(pools.good as Hex),
      squat: await poolBalance(pools.squatReal as Hex),
    };
    expect(await settler.settle(10)).toBeDefined();
    const { draws, txHash } = await settler.settlement(10);
    expect(Object.keys(draws)).toEqual([hiStream, loStream]); // the order the settler was given
    expect(txHash).toMatch(/^0x/);
    const [ids, amounts] = (await read("drawsOf", [10n])) as readonly [readonly Hex[], readonly bigint[]];
    const idOf = (s: string) => (s === "good" ? pools.good : pools.squatReal) as Hex;
    expect(ids).toEqual([idOf(loStream), idOf(hiStream)]);
    expect(amounts).toEqual([BigInt(draws[loStream] ?? -1), BigInt(draws[hiStream] ?? -1)]);
    expect(await poolBalance(pools.good as Hex)).toBe(poolsBefore.good - 100n);
    expect(await poolBalance(pools.squatReal as Hex)).toBe(poolsBefore.squat - 100n);
    expect(logs).not.toContainEqual(
      expect.objectContaining({ msg: "chain refused the epoch's tree: recomputing", epoch: 10 }),
    );
    await expectSolvent();
  });

  it("sortedPoolDraws merges a pool named twice and orders pool ids as numbers", () => {
    const id = (n: number) => `0x${n.toString(16).padStart(64, "0")}` as Hex;
    const top = `0x${"F".repeat(64)}` as Hex; // upper-case hex: compared as a number, not as text
    expect(
      sortedPoolDraws([
        [top, 1n],
        [id(0x10), 2n],
        [id(2), 3n],
        [id(0x10), 4n],
      ]),
    ).toEqual({ poolIds: [id(2), id(0x10), `0x${"f".repeat(64)}`], amounts: [3n, 6n, 1n] });
    expect(sortedPoolDraws([])).toEqual({ poolIds: [], amounts: [] });
  });
});
