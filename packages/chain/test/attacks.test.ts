import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import {
  deploymentDomain,
  distributorAbi,
  fraudAbi,
  poolIdOf,
  segmentStruct,
  signNodeConsent,
  signPoolConsent,
} from "@streamrp2p/chain";
import {
  devTokenAbi,
  epochDistributorAbi,
  fraudProofAbi,
  nodeRegistryAbi,
  rewardPoolsAbi,
} from "@streamrp2p/contracts";
import { sha256Hex, signDelivery, signSegmentAttestation, streamIdToBytes32 } from "@streamrp2p/protocol";
import type { Abi, AbiParameter, Address, Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, revertName, startHarness } from "./harness.ts";

/**
 * The on-chain attacks of audit issue 11, each performed against the real
 * contracts on anvil: every one must fail and leave every balance as it was.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
}, 60_000);
afterAll(() => h?.stop());

const me = (role: keyof Harness["w"]) => h.w[role].account.address;
const tree = (leaves: Array<[string, bigint]>) =>
  StandardMerkleTree.of(
    leaves.map(([a, v]) => [a, v.toString()]),
    ["address", "uint256"],
  );

/** postRoot's pool arguments in increasing pool id order (each pool once), as the distributor requires. */
const ascending = (...draws: Array<[Hex, bigint]>): [Hex[], bigint[]] => {
  const sorted = draws.sort(([a], [b]) => (BigInt(a) < BigInt(b) ? -1 : 1));
  return [sorted.map(([id]) => id), sorted.map(([, v]) => v)];
};

/** Every token balance an attack could move. */
async function balances(): Promise<bigint[]> {
  const who: Address[] = [
    ...(["owner", "settler", "streamer", "operator", "supporter", "attacker", "payee"] as const).map(me),
    h.d.registry,
    h.d.pools,
    h.d.distributor,
  ];
  return Promise.all(who.map(h.balance));
}

describe("attack 1: becoming another node's operator", () => {
  it("registering a node without its key's consent fails, and no token moves", async () => {
    const victimKey = generatePrivateKey(); // a node listed by GET /v1/nodes
    const victim = privateKeyToAccount(victimKey);
    const before = await balances();
    const attempt = (deadline: bigint, signature: Hex) =>
      revertName(
        h.send(h.w.attacker, h.d.registry, nodeRegistryAbi, "register", [
          victim.address,
          1n,
          deadline,
          signature,
        ]),
      );
    const far = 10n ** 12n;
    // No signature, the attacker's own signature, and a consent the node gave to someone else.
    expect(await attempt(far, "0x")).toBe("ECDSAInvalidSignatureLength");
    const own = await signNodeConsent(h.client, h.d.registry, h.w.attacker.account as never, me("attacker"));
    expect(await attempt(own.deadline, own.signature)).toBe("NoNodeConsent");
    const forOperator = await signNodeConsent(h.client, h.d.registry, victim, me("operator"));
    expect(await attempt(forOperator.deadline, forOperator.signature)).toBe("NoNodeConsent");
    // A consent for the attacker, but signed for another chain, or another registry.
    const typed = (chainId: number, verifyingContract: Address) =>
      victim.signTypedData({
        domain: { name: "StreamrP2P NodeRegistry", version: "1", chainId, verifyingContract },
        types: {
          NodeConsent: [
            { name: "node", type: "address" },
            { name: "operator", type: "address" },
            { name: "nonce", type: "uint256" },
            { name: "deadline", type: "uint256" },
          ],
        },
        primaryType: "NodeConsent",
        message: { node: victim.address, operator: me("attacker"), nonce: 0n, deadline: far },
      });
    expect(await attempt(far, await typed(1, h.d.registry))).toBe("NoNodeConsent");
    expect(await attempt(far, await typed(h.chain.chainId, h.d.pools))).toBe("NoNodeConsent");
    // An expired consent.
    const expired = await signNodeConsent(h.client, h.d.registry, victim, me("attacker"), 0n);
    await h.timeTravel(2);
    expect(await attempt(expired.deadline, expired.signature)).toBe("ConsentExpired");
    expect(await h.read(h.d.registry, nodeRegistryAbi, "operatorOf", [victim.address])).toMatch(/^0x0{40}$/);
    expect(await balances()).toEqual(before);

    // The operator the node consented to registers it; the consent cannot be used again.
    await h.send(h.w.operator, h.d.registry, nodeRegistryAbi, "register", [
      victim.address,
      10n,
      forOperator.deadline,
      forOperator.signature,
    ]);
    expect(await h.read(h.d.registry, nodeRegistryAbi, "operatorOf", [victim.address])).toBe(me("operator"));
    expect(await h.read(h.d.registry, nodeRegistryAbi, "nonces", [victim.address])).toBe(1n);
    expect(await attempt(forOperator.deadline, forOperator.signature)).toBe("AlreadyRegistered");
    expect(
      await revertName(
        h.send(h.w.attacker, h.d.registry, nodeRegistryAbi, "setBackers", [
          victim.address,
          [me("attacker")],
          [10_000],
        ]),
      ),
    ).toBe("NotOperator");
  });
});

describe("attack 2: squatting a stream's pool", () => {
  it("nobody creates the pool of another's signing key; a squatter's own pool is never drawn and never proves fraud", async () => {
    const stream = streamIdToBytes32("squatted");
    const signingKey = generatePrivateKey();
    const signer = privateKeyToAccount(signingKey);
    const attackerKey = generatePrivateKey();
    const attackerSigner = privateKeyToAccount(attackerKey);
    const create = (who: "attacker" | "streamer", s: Address, deadline: bigint, sig: Hex) =>
      revertName(h.send(h.w[who], h.d.pools, rewardPoolsAbi, "createPool", [stream, s, 1n, deadline, sig]));
    const before = await balances();
    // Without the signing key's consent, with its own signature, with the streamer's consent replayed.
    expect(await create("attacker", signer.address, 10n ** 12n, "0x")).toBe("ECDSAInvalidSignatureLength");
    const forged = await signPoolConsent(h.client, h.d.pools, attackerSigner, stream, me("attacker"));
    expect(await create("attacker", signer.address, forged.deadline, forged.signature)).toBe(
      "NoSignerConsent",
    );
    const streamers = await signPoolConsent(h.client, h.d.pools, signer, stream, me("streamer"));
    expect(await create("attacker", signer.address, streamers.deadline, streamers.signature)).toBe(
      "NoSignerConsent",
    );
    expect(await balances()).toEqual(before);

    // The squatter may create a pool for the stream under its own key: another pool id, blocking nobody.
    expect(await create("attacker", attackerSigner.address, forged.deadline, forged.signature)).toBe(
      "did not revert",
    );
    const squatPool = poolIdOf(stream, attackerSigner.address);
    await h.send(h.w.attacker, h.d.pools, rewardPoolsAbi, "fund", [squatPool, 100n]);
    const realPool = await h.createPool(stream, signingKey, 1_000n, 1_000n);
    expect(realPool).not.toBe(squatPool);

    // Fraud proofs: the stream's key is the one the settler drew for (none yet).
    const nodeKey = generatePrivateKey();
    const node = privateKeyToAccount(nodeKey).address;
    await h.register(h.w.operator, nodeKey, 1_000n);
    const forgedProof = async () => {
      // The squatter "attests" other bytes than the honest node served, under its own key.
      const domain = deploymentDomain(h.chain.chainId, h.d);
      const att = await signSegmentAttestation(attackerSigner, domain, {
        streamId: "squatted",
        rendition: "main",
        seq: 7,
        initVersion: 0,
        sha256: sha256Hex(Buffer.from("made up")),
        byteLength: 7,
        durationMs: 1000,
        producedAt: 1,
      });
      // The node's own statement about that attestation and other bytes: only the squatter's key is missing.
      const served = sha256Hex(Buffer.from("honest bytes"));
      const nodeSig = await signDelivery(privateKeyToAccount(nodeKey), domain, att, served);
      return revertName(
        h.send(h.w.attacker, h.d.fraudProof, fraudAbi, "prove", [
          segmentStruct(att),
          att.signature,
          node,
          served,
          nodeSig,
        ]),
      );
    };
    expect(await forgedProof()).toBe("NotStreamSigner");
    // The settler draws from the real pool: that binds the stream to its registered key for good.
    const latest = (await h.read(h.d.distributor, distributorAbi, "lastValidEpoch")) as bigint;
    const latestEpoch = (await h.read(h.d.distributor, distributorAbi, "latestEpoch")) as bigint;
    const t = tree([[me("payee"), 10n]]);
    await h.send(h.w.settler, h.d.distributor, distributorAbi, "postRoot", [
      latestEpoch + 1n,
      latest,
      t.root,
      [realPool],
      [10n],
    ]);
    expect(await h.read(h.d.pools, rewardPoolsAbi, "signerOf", [stream])).toBe(signer.address);
    expect(await forgedProof()).toBe("NotStreamSigner");
    // Even the settler cannot draw from the squatter's pool once the stream is bound.
    expect(
      await revertName(
        h.send(h.w.settler, h.d.distributor, distributorAbi, "postRoot", [
          latestEpoch + 2n,
          latestEpoch + 1n,
          t.root,
          [squatPool],
          [1n],
        ]),
      ),
    ).toBe("SignerConflict");
    const squat = (await h.read(h.d.pools, rewardPoolsAbi, "pools", [squatPool])) as readonly unknown[];
    expect(squat[4]).toBe(100n); // balance
    const staked = (await h.read(h.d.registry, nodeRegistryAbi, "nodes", [node])) as readonly unknown[];
    expect(staked[2]).toBe(1_000n); // stake
  });
});

describe("attack 3: a streamer halting settlement", () => {
  it("a budget cut after the settler computed does not make the root revert; it applies from the next root", async () => {
    const stream = streamIdToBytes32("cutter");
    const pool = await h.createPool(stream, generatePrivateKey(), 50n, 1_000n);
    const other = await h.createPool(streamIdToBytes32("honest"), generatePrivateKey(), 50n, 1_000n);
    // The settler computes: both pools can give 50.
    expect(await h.read(h.d.pools, rewardPoolsAbi, "drawable", [pool])).toBe(50n);
    // The streamer cuts its budget to 0 before the root is posted.
    await h.send(h.w.streamer, h.d.pools, rewardPoolsAbi, "setBudget", [pool, 0n]);
    const latest = (await h.read(h.d.distributor, distributorAbi, "latestEpoch")) as bigint;
    const base = (await h.read(h.d.distributor, distributorAbi, "lastValidEpoch")) as bigint;
    const t = tree([[me("payee"), 200n]]);
    await h.send(h.w.settler, h.d.distributor, distributorAbi, "postRoot", [
      latest + 1n,
      base,
      t.root,
      ...ascending([pool, 50n], [other, 50n]),
    ]);
    // From now on the cut holds: the settler sees nothing drawable and leaves the stream out.
    expect(await h.read(h.d.pools, rewardPoolsAbi, "drawable", [pool])).toBe(0n);
    expect(await h.read(h.d.pools, rewardPoolsAbi, "drawable", [other])).toBe(50n);
    expect(
      await revertName(
        h.send(h.w.settler, h.d.distributor, distributorAbi, "postRoot", [
          latest + 2n,
          latest + 1n,
          t.root,
          [pool],
          [1n],
        ]),
      ),
    ).toBe("OverBudget");
    // A raise holds at once.
    await h.send(h.w.streamer, h.d.pools, rewardPoolsAbi, "setBudget", [pool, 5n]);
    expect(await h.read(h.d.pools, rewardPoolsAbi, "drawable", [pool])).toBe(5n);
  });
});

describe("attack 4: voiding a root to make the distributor insolvent", () => {
  it("voiding a root voids the roots built on it; a root must build on the newest valid root", async () => {
    const pool = await h.createPool(streamIdToBytes32("voided"), generatePrivateKey(), 100n, 1_000n);
    const e0 = (await h.read(h.d.distributor, distributorAbi, "latestEpoch")) as bigint;
    const b0 = (await h.read(h.d.distributor, distributorAbi, "lastValidEpoch")) as bigint;
    const post = (epoch: bigint, base: bigint, root: string, amount: bigint) =>
      h.send(h.w.settler, h.d.distributor, distributorAbi, "postRoot", [epoch, base, root, [pool], [amount]]);
    const distributorBefore = await h.balance(h.d.distributor);
    await post(e0 + 1n, b0, tree([[me("payee"), 40n]]).root, 40n);
    await post(e0 + 2n, e0 + 1n, tree([[me("payee"), 70n]]).root, 30n);
    // Voiding the first root also voids the second (built on it) and refunds both draws.
    await h.send(h.w.owner, h.d.distributor, distributorAbi, "voidRoot", [e0 + 1n]);
    for (const e of [e0 + 1n, e0 + 2n])
      expect(((await h.read(h.d.distributor, distributorAbi, "roots", [e])) as readonly unknown[])[2]).toBe(
        true,
      );
    expect(await h.read(h.d.distributor, distributorAbi, "lastValidEpoch")).toBe(b0);
    expect(await h.balance(h.d.distributor)).toBe(distributorBefore);
    expect(((await h.read(h.d.pools, rewardPoolsAbi, "pools", [pool])) as readonly unknown[])[4]).toBe(
      1_000n,
    );
    // A tree built on a voided root is refused; one built on the last valid root is taken.
    const stale = tree([[me("payee"), 90n]]);
    expect(await revertName(post(e0 + 3n, e0 + 2n, stale.root, 20n))).toBe("StaleBase");
    const good = tree([[me("payee"), 20n]]);
    await post(e0 + 3n, b0, good.root, 20n);
    await h.timeTravel(101);
    const payeeBefore = await h.balance(me("payee"));
    const claimedBefore = (await h.read(h.d.distributor, distributorAbi, "claimed", [me("payee")])) as bigint;
    // The payee's cumulative in this test's trees starts from what it claimed before (0 here).
    expect(claimedBefore).toBe(0n);
    await h.send(h.w.payee, h.d.distributor, distributorAbi, "claim", [
      e0 + 3n,
      me("payee"),
      20n,
      good.getProof([me("payee"), "20"]),
    ]);
    expect((await h.balance(me("payee"))) - payeeBefore).toBe(20n);
    expect(await h.balance(h.d.distributor)).toBe(distributorBefore);
  });
});

describe("attack 5: the owner draining pools through roots", () => {
  it("with the settler role taken, the owner still gets at most one budget per elapsed epoch", async () => {
    // A deployment with hour-long epochs, starting at the deployment's epoch (the production shape).
    const hourly = await startHarness({ epochMs: 3_600_000n, firstEpoch: undefined });
    try {
      const { d, w } = hourly;
      const pool = await hourly.createPool(streamIdToBytes32("drained"), generatePrivateKey(), 100n, 10_000n);
      await hourly.send(w.owner, d.distributor, distributorAbi, "setSettler", [w.owner.account.address]);
      const first = (await hourly.read(d.distributor, distributorAbi, "firstEpoch")) as bigint;
      const loot = tree([[w.owner.account.address, 100n]]);
      const post = (epoch: bigint, base: bigint) =>
        revertName(
          hourly.send(w.owner, d.distributor, distributorAbi, "postRoot", [
            epoch,
            base,
            loot.root,
            [pool],
            [100n],
          ]),
        );
      // Epochs before deployment, the running epoch, and any future one: refused.
      expect(await post(first - 1n, 0n)).toBe("EpochBeforeFirst");
      expect(await post(first, 0n)).toBe("EpochNotOver");
      expect(await post(first + 1_000n, 0n)).toBe("EpochNotOver");
      const before = await hourly.balance(w.owner.account.address);
      expect(await hourly.balance(d.distributor)).toBe(0n);
      // One hour later exactly one epoch has ended: one root, one budget, and nothing more.
      await hourly.timeTravel(3_600);
      expect(await post(first, 0n)).toBe("did not revert");
      expect(await post(first, first)).toBe("AlreadyPosted");
      expect(await post(first + 1n, first)).toBe("EpochNotOver");
      expect(await hourly.balance(d.distributor)).toBe(100n);
      // And it is claimable only after the dispute window, like any root.
      expect(await hourly.balance(w.owner.account.address)).toBe(before);
    } finally {
      await hourly.stop();
    }
  }, 60_000);
});

describe("attack 8: one root drawing a pool's budget many times", () => {
  it("a root naming a pool twice, or its pools out of order, is refused with PoolsNotSorted; no token moves", async () => {
    // RewardPools.draw checks each amount against the pool's budget on its own: a root naming a
    // pool k times drew k budgets in one epoch. Budget B, and enough in the pools for 3 B.
    const B = 100n;
    const a = await h.createPool(streamIdToBytes32("listed twice"), generatePrivateKey(), B, 3n * B);
    const b = await h.createPool(streamIdToBytes32("listed out of order"), generatePrivateKey(), B, 3n * B);
    const [lo, hi] = BigInt(a) < BigInt(b) ? [a, b] : [b, a];
    const latest = (await h.read(h.d.distributor, distributorAbi, "latestEpoch")) as bigint;
    const base = (await h.read(h.d.distributor, distributorAbi, "lastValidEpoch")) as bigint;
    const rootsPosted = await h.read(h.d.distributor, distributorAbi, "rootsPosted");
    // The settler's tree pays the loot to one payee (the settler key, or an owner who took its role).
    const loot = tree([[me("payee"), 3n * B]]);
    const post = (poolIds: Hex[], amounts: bigint[]) =>
      revertName(
        h.send(h.w.settler, h.d.distributor, distributorAbi, "postRoot", [
          latest + 1n,
          base,
          loot.root,
          poolIds,
          amounts,
        ]),
      );
    const poolBalance = async (id: Hex) =>
      ((await h.read(h.d.pools, rewardPoolsAbi, "pools", [id])) as readonly unknown[])[4] as bigint;
    const before = await balances();
    expect(await poolBalance(a)).toBe(3n * B);

    // The same pool twice and three times, each entry within the budget: 2 B and 3 B in one epoch.
    expect(await post([a, a], [B, B])).toBe("PoolsNotSorted");
    expect(await post([a, a, a], [B, B, B])).toBe("PoolsNotSorted");
    expect(await post([a, a], [B, 0n])).toBe("PoolsNotSorted");
    // Two different pools out of order, and a repeat after another pool.
    expect(await post([hi, lo], [B, B])).toBe("PoolsNotSorted");
    expect(await post([lo, hi, lo], [B, B, B])).toBe("PoolsNotSorted");
    // Nothing moved, nothing was posted.
    expect(await balances()).toEqual(before);
    expect(await poolBalance(a)).toBe(3n * B);
    expect(await poolBalance(b)).toBe(3n * B);
    expect(await h.read(h.d.distributor, distributorAbi, "latestEpoch")).toBe(latest);
    expect(await h.read(h.d.distributor, distributorAbi, "rootsPosted")).toBe(rootsPosted);

    // In increasing order, each pool once: one budget from each, and not a wei more.
    expect(await post([lo, hi], [B + 1n, B])).toBe("OverBudget");
    expect(await post([lo, hi], [B, B])).toBe("did not revert");
    expect(await h.read(h.d.distributor, distributorAbi, "drawsOf", [latest + 1n])).toEqual([
      [lo, hi],
      [B, B],
    ]);
    expect(await poolBalance(a)).toBe(2n * B);
    expect(await poolBalance(b)).toBe(2n * B);
    expect(await h.balance(h.d.distributor)).toBe((before.at(-1) ?? 0n) + 2n * B);
  });
});

/** Zero-ish arguments for any ABI input: enough to reach an access check. */
function dummy(p: AbiParameter): unknown {
  if (p.type.endsWith("]")) return [];
  if (p.type === "address") return "0x0000000000000000000000000000000000000001";
  if (p.type === "bool") return false;
  if (p.type === "string") return "";
  if (p.type === "bytes") return "0x";
  if (p.type.startsWith("bytes")) return `0x${"00".repeat(Number(p.type.slice(5)))}`;
  if (p.type.startsWith("uint") || p.type.startsWith("int")) return 1n;
  if (p.type === "tuple" && "components" in p)
    return Object.fromEntries(p.components.map((c) => [c.name ?? "", dummy(c)]));
  throw new Error(`no dummy for ${p.type}`);
}

describe("owner powers", () => {
  it("the owner-only functions are exactly the documented ones, and none of them pays the owner", async () => {
    const contracts: Array<[string, Address, Abi]> = [
      ["NodeRegistry", h.d.registry, nodeRegistryAbi],
      ["RewardPools", h.d.pools, rewardPoolsAbi],
      ["EpochDistributor", h.d.distributor, epochDistributorAbi],
      ["FraudProof", h.d.fraudProof, fraudProofAbi],
    ];
    const ownerOnly: string[] = [];
    for (const [name, address, abi] of contracts) {
      for (const f of abi) {
        if (f.type !== "function" || f.stateMutability === "view" || f.stateMutability === "pure") continue;
        const why = await revertName(
          h.client.simulateContract({
            account: h.w.attacker.account,
            address,
            abi,
            functionName: f.name,
            args: f.inputs.map(dummy),
          } as never),
        );
        if (why === "OwnableUnauthorizedAccount") ownerOnly.push(`${name}.${f.name}`);
      }
    }
    // docs/security.md, "What the owner key can and cannot do", lists these and only these.
    expect(ownerOnly.sort()).toEqual([
      "EpochDistributor.renounceOwnership",
      "EpochDistributor.setSettler",
      "EpochDistributor.transferOwnership",
      "EpochDistributor.voidRoot",
      "NodeRegistry.renounceOwnership",
      "NodeRegistry.setSlasher",
      "NodeRegistry.transferOwnership",
      "RewardPools.renounceOwnership",
      "RewardPools.setDistributor",
      "RewardPools.transferOwnership",
    ]);
    // The wiring setters are one-shot; the owner cannot draw, refund or slash itself.
    const owner = h.w.owner;
    expect(await revertName(h.send(owner, h.d.registry, nodeRegistryAbi, "setSlasher", [me("owner")]))).toBe(
      "SlasherAlreadySet",
    );
    expect(await revertName(h.send(owner, h.d.pools, rewardPoolsAbi, "setDistributor", [me("owner")]))).toBe(
      "DistributorAlreadySet",
    );
    const anyPool = poolIdOf(streamIdToBytes32("cutter"), me("owner"));
    expect(await revertName(h.send(owner, h.d.pools, rewardPoolsAbi, "draw", [anyPool, 1n]))).toBe(
      "NotDistributor",
    );
    expect(await revertName(h.send(owner, h.d.pools, rewardPoolsAbi, "refund", [anyPool, 1n]))).toBe(
      "NotDistributor",
    );
    expect(
      await revertName(
        h.send(owner, h.d.registry, nodeRegistryAbi, "slash", [me("operator"), 10_000, me("owner"), 10_000]),
      ),
    ).toBe("NotSlasher");
    expect(
      await revertName(
        h.send(owner, h.d.distributor, distributorAbi, "postRoot", [
          10n ** 9n,
          0n,
          `0x${"11".repeat(32)}`,
          [],
          [],
        ]),
      ),
    ).toBe("NotSettler");
    // The dev token's mint is the one owner power over tokens, and it is the dev chain's only.
    expect(await h.read(h.d.token, devTokenAbi, "owner")).toBe(me("owner"));
  });
});
