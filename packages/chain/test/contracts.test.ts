import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import {
  chainAt,
  type Deployment,
  type DevChain,
  deployContracts,
  deploymentDomain,
  distributorAbi,
  poolIdOf,
  publicClient,
  segmentStruct,
  signNodeConsent,
  signPoolConsent,
  startDevChain,
  type Wallet,
  wallet,
} from "@streamrp2p/chain";
import { devTokenAbi, fraudProofAbi, nodeRegistryAbi, rewardPoolsAbi } from "@streamrp2p/contracts";
import { sha256Hex, signDelivery, signSegmentAttestation, streamIdToBytes32 } from "@streamrp2p/protocol";
import {
  type Abi,
  type Address,
  BaseError,
  ContractFunctionRevertedError,
  type PublicClient,
  parseEther,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let chain: DevChain;
let client: PublicClient;
let d: Deployment;
const W: Record<"owner" | "settler" | "streamer" | "operator" | "supporter" | "reporter" | "payee", Wallet> =
  {} as never;
const STREAM = streamIdToBytes32("show");
const signingKey = generatePrivateKey(); // the stream's segment-signing key
const nodeKey = generatePrivateKey(); // the relay's delivery-signing key
const nodeAddr = privateKeyToAccount(nodeKey).address;
const POOL = poolIdOf(STREAM, privateKeyToAccount(signingKey).address);

/** register(node, stake) as the operator, with the node key's consent. */
async function register(operator: Wallet, key: `0x${string}`, stake: bigint) {
  const c = await signNodeConsent(client, d.registry, privateKeyToAccount(key), operator.account.address);
  return send(operator, d.registry, nodeRegistryAbi, "register", [
    privateKeyToAccount(key).address,
    stake,
    c.deadline,
    c.signature,
  ]);
}

/** The custom error a call reverted with (viem walks the cause chain). */
async function revertName(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    const reverted =
      err instanceof BaseError ? err.walk((e) => e instanceof ContractFunctionRevertedError) : null;
    if (reverted instanceof ContractFunctionRevertedError)
      return reverted.data?.errorName ?? reverted.reason ?? "reverted";
    throw err;
  }
  return "did not revert";
}

async function send(w: Wallet, address: Address, abi: Abi, functionName: string, args: unknown[]) {
  const { request } = await client.simulateContract({
    account: w.account,
    address,
    abi,
    functionName,
    args,
  } as never);
  const hash = await w.writeContract(request as never);
  return client.waitForTransactionReceipt({ hash });
}

const read = (address: Address, abi: Abi, functionName: string, args: unknown[] = []) =>
  client.readContract({ address, abi, functionName, args } as never) as Promise<unknown>;

const balance = async (a: Address) => (await read(d.token, devTokenAbi, "balanceOf", [a])) as bigint;

async function timeTravel(seconds: number) {
  await client.request({ method: "evm_increaseTime" as never, params: [seconds] as never });
  await client.request({ method: "evm_mine" as never, params: [] as never });
}

beforeAll(async () => {
  chain = await startDevChain();
  const c = chainAt(chain.rpcUrl, chain.chainId);
  client = publicClient(c);
  const names = ["owner", "settler", "streamer", "operator", "supporter", "reporter", "payee"] as const;
  names.forEach((n, i) => {
    W[n] = wallet(c, chain.keys[i] as `0x${string}`);
  });
  d = await deployContracts(client, W.owner, {
    disputeWindowSeconds: 100n,
    unbondingPeriodSeconds: 1_000n,
    slashBps: 5_000,
    reporterBps: 2_000,
    settler: W.settler.account.address,
    epochMs: 1_000n,
    firstEpoch: 1n,
  });
  for (const n of ["streamer", "operator", "supporter", "reporter"] as const) {
    await send(W.owner, d.token, devTokenAbi, "mint", [W[n].account.address, parseEther("1000")]);
    for (const spender of [d.pools, d.registry])
      await send(W[n], d.token, devTokenAbi, "approve", [spender, parseEther("1000000")]);
  }
}, 60_000);
afterAll(() => chain?.stop());

describe("reward pools", () => {
  it("are created by a streamer, funded by anyone, and refuse bad calls", async () => {
    const signer = privateKeyToAccount(signingKey);
    const c = await signPoolConsent(client, d.pools, signer, STREAM, W.streamer.account.address);
    await send(W.streamer, d.pools, rewardPoolsAbi, "createPool", [
      STREAM,
      signer.address,
      parseEther("10"),
      c.deadline,
      c.signature,
    ]);
    expect(
      await revertName(
        send(W.streamer, d.pools, rewardPoolsAbi, "createPool", [
          STREAM,
          signer.address,
          1n,
          c.deadline,
          c.signature,
        ]),
      ),
    ).toBe("PoolExists");
    await send(W.supporter, d.pools, rewardPoolsAbi, "fund", [POOL, parseEther("15")]);
    expect(await read(d.pools, rewardPoolsAbi, "drawable", [POOL])).toBe(parseEther("10")); // the budget
    expect(
      await revertName(send(W.supporter, d.pools, rewardPoolsAbi, "fund", [streamIdToBytes32("nosuch"), 1n])),
    ).toBe("UnknownPool");
    expect(await revertName(send(W.supporter, d.pools, rewardPoolsAbi, "fund", [POOL, 0n]))).toBe(
      "ZeroAmount",
    );
    expect(await revertName(send(W.supporter, d.pools, rewardPoolsAbi, "setBudget", [POOL, 1n]))).toBe(
      "NotStreamer",
    );
    expect(await revertName(send(W.supporter, d.pools, rewardPoolsAbi, "draw", [POOL, 1n]))).toBe(
      "NotDistributor",
    );
    expect(
      await revertName(send(W.owner, d.pools, rewardPoolsAbi, "setDistributor", [W.owner.account.address])),
    ).toBe("DistributorAlreadySet");
  });
});

describe("node registry", () => {
  it("registers with stake, unbonds over a period, and refuses the rest", async () => {
    await register(W.operator, nodeKey, parseEther("100"));
    expect(await revertName(register(W.supporter, nodeKey, 1n))).toBe("AlreadyRegistered");
    expect(await revertName(send(W.supporter, d.registry, nodeRegistryAbi, "addStake", [nodeAddr, 1n]))).toBe(
      "NotOperator",
    );
    expect(
      await revertName(
        send(W.operator, d.registry, nodeRegistryAbi, "addStake", [W.payee.account.address, 1n]),
      ),
    ).toBe("UnknownNode");
    expect(
      await revertName(
        send(W.operator, d.registry, nodeRegistryAbi, "unbond", [nodeAddr, parseEther("101")]),
      ),
    ).toBe("InsufficientStake");
    expect(await revertName(send(W.operator, d.registry, nodeRegistryAbi, "withdraw", [nodeAddr]))).toBe(
      "NothingToWithdraw",
    );
    await send(W.operator, d.registry, nodeRegistryAbi, "unbond", [nodeAddr, parseEther("10")]);
    expect(await revertName(send(W.operator, d.registry, nodeRegistryAbi, "withdraw", [nodeAddr]))).toBe(
      "StillUnbonding",
    );
    await timeTravel(1_001);
    const before = await balance(W.operator.account.address);
    await send(W.operator, d.registry, nodeRegistryAbi, "withdraw", [nodeAddr]);
    expect((await balance(W.operator.account.address)) - before).toBe(parseEther("10"));
    expect(
      await revertName(
        send(W.operator, d.registry, nodeRegistryAbi, "slash", [
          nodeAddr,
          10_000,
          W.operator.account.address,
          0,
        ]),
      ),
    ).toBe("NotSlasher");
  });

  it("keeps backers' shares within 100 %", async () => {
    const a = W.supporter.account.address;
    await send(W.operator, d.registry, nodeRegistryAbi, "setBackers", [nodeAddr, [a], [2_500]]);
    expect(await read(d.registry, nodeRegistryAbi, "backersOf", [nodeAddr])).toEqual([
      { account: a, bps: 2_500 },
    ]);
    expect(
      await revertName(
        send(W.operator, d.registry, nodeRegistryAbi, "setBackers", [
          nodeAddr,
          [a, W.payee.account.address],
          [6_000, 5_000],
        ]),
      ),
    ).toBe("BadShares");
    expect(
      await revertName(send(W.operator, d.registry, nodeRegistryAbi, "setBackers", [nodeAddr, [a], [1, 2]])),
    ).toBe("BadShares");
    expect(
      await revertName(send(W.supporter, d.registry, nodeRegistryAbi, "setBackers", [nodeAddr, [], []])),
    ).toBe("NotOperator");
  });
});

describe("epoch distributor", () => {
  const payee = () => W.payee.account.address;
  const other = () => W.reporter.account.address;
  const tree = (amounts: Array<[string, bigint]>) => StandardMerkleTree.of(amounts, ["address", "uint256"]);

  it("posts one root per epoch, pays cumulative claims once, after the dispute window, with a valid proof", async () => {
    const t1 = tree([
      [payee(), parseEther("3")],
      [other(), parseEther("2")],
    ]);
    expect(
      await revertName(
        send(W.payee, d.distributor, distributorAbi, "postRoot", [
          1n,
          0n,
          t1.root,
          [POOL],
          [parseEther("5")],
        ]),
      ),
    ).toBe("NotSettler");
    expect(
      await revertName(
        send(W.settler, d.distributor, distributorAbi, "postRoot", [
          1n,
          0n,
          t1.root,
          [POOL],
          [parseEther("11")],
        ]),
      ),
    ).toBe("OverBudget");
    await send(W.settler, d.distributor, distributorAbi, "postRoot", [
      1n,
      0n,
      t1.root,
      [POOL],
      [parseEther("5")],
    ]);
    expect(
      await revertName(
        send(W.settler, d.distributor, distributorAbi, "postRoot", [1n, 0n, t1.root, [POOL], [0n]]),
      ),
    ).toBe("AlreadyPosted");
    const proof = t1.getProof([payee(), parseEther("3")]);
    expect(
      await revertName(
        send(W.payee, d.distributor, distributorAbi, "claim", [1n, payee(), parseEther("3"), proof]),
      ),
    ).toBe("NotClaimableYet");
    await timeTravel(101);
    expect(
      await revertName(
        send(W.payee, d.distributor, distributorAbi, "claim", [1n, payee(), parseEther("4"), proof]),
      ),
    ).toBe("BadProof");
    expect(
      await revertName(
        send(W.payee, d.distributor, distributorAbi, "claim", [1n, other(), parseEther("3"), proof]),
      ),
    ).toBe("BadProof");
    const before = await balance(payee());
    await send(W.payee, d.distributor, distributorAbi, "claim", [1n, payee(), parseEther("3"), proof]);
    expect((await balance(payee())) - before).toBe(parseEther("3"));
    expect(
      await revertName(
        send(W.payee, d.distributor, distributorAbi, "claim", [1n, payee(), parseEther("3"), proof]),
      ),
    ).toBe("NothingToClaim");
    // Epoch 2's tree holds cumulative totals: one claim pays just the difference.
    const t2 = tree([
      [payee(), parseEther("7")],
      [other(), parseEther("2")],
    ]);
    await send(W.settler, d.distributor, distributorAbi, "postRoot", [
      2n,
      1n,
      t2.root,
      [POOL],
      [parseEther("4")],
    ]);
    expect(
      await revertName(
        send(W.settler, d.distributor, distributorAbi, "postRoot", [1n, 0n, t2.root, [POOL], [0n]]),
      ),
    ).toBe("AlreadyPosted");
    await timeTravel(101);
    await send(W.payee, d.distributor, distributorAbi, "claim", [
      2n,
      payee(),
      parseEther("7"),
      t2.getProof([payee(), parseEther("7")]),
    ]);
    expect((await balance(payee())) - before).toBe(parseEther("7"));
  });

  it("draws only what the pool holds: an underfunded pool refuses a larger draw", async () => {
    const left = (await read(d.pools, rewardPoolsAbi, "pools", [POOL])) as readonly [
      string,
      string,
      bigint,
      string,
      bigint,
    ];
    expect(left[4]).toBe(parseEther("6")); // 15 funded - 5 - 4 drawn
    const t = tree([[payee(), parseEther("100")]]);
    expect(
      await revertName(
        send(W.settler, d.distributor, distributorAbi, "postRoot", [
          3n,
          2n,
          t.root,
          [POOL],
          [parseEther("7")],
        ]),
      ),
    ).toBe("Underfunded");
    expect(await read(d.pools, rewardPoolsAbi, "drawable", [POOL])).toBe(parseEther("6"));
  });

  it("lets the owner void a bad root inside the window, refunding the pool; a voided root pays nothing", async () => {
    const t = tree([[payee(), parseEther("9")]]);
    await send(W.settler, d.distributor, distributorAbi, "postRoot", [
      3n,
      2n,
      t.root,
      [POOL],
      [parseEther("2")],
    ]);
    expect(await revertName(send(W.payee, d.distributor, distributorAbi, "voidRoot", [3n]))).toMatch(
      /OwnableUnauthorizedAccount/,
    );
    await send(W.owner, d.distributor, distributorAbi, "voidRoot", [3n]);
    expect(await read(d.pools, rewardPoolsAbi, "drawable", [POOL])).toBe(parseEther("6"));
    await timeTravel(101);
    expect(
      await revertName(
        send(W.payee, d.distributor, distributorAbi, "claim", [
          3n,
          payee(),
          parseEther("9"),
          t.getProof([payee(), parseEther("9")]),
        ]),
      ),
    ).toBe("Voided");
    expect(await revertName(send(W.owner, d.distributor, distributorAbi, "voidRoot", [3n]))).toBe("Voided");
    const t4 = tree([[payee(), parseEther("8")]]);
    await send(W.settler, d.distributor, distributorAbi, "postRoot", [
      4n,
      2n,
      t4.root,
      [POOL],
      [parseEther("1")],
    ]);
    await timeTravel(101);
    expect(await revertName(send(W.owner, d.distributor, distributorAbi, "voidRoot", [4n]))).toBe(
      "DisputeWindowOver",
    );
    expect(
      await revertName(send(W.settler, d.distributor, distributorAbi, "postRoot", [4n, 0n, t4.root, [], []])),
    ).toBe("AlreadyPosted");
    expect(
      await revertName(send(W.settler, d.distributor, distributorAbi, "postRoot", [2n, 0n, t4.root, [], []])),
    ).toBe("AlreadyPosted");
  });
});

describe("fraud proofs", () => {
  async function evidence(signer = signingKey, node = nodeKey, servedBytes = Buffer.from("tampered bytes")) {
    const bytes = Buffer.from("true bytes");
    const domain = deploymentDomain(chain.chainId, d);
    const att = await signSegmentAttestation(privateKeyToAccount(signer), domain, {
      streamId: "show",
      rendition: "main",
      seq: 42,
      initVersion: 40,
      sha256: sha256Hex(bytes),
      byteLength: bytes.length,
      durationMs: 1000,
      producedAt: 1_700_000_000_000,
    });
    const served = sha256Hex(servedBytes);
    const nodeSig = await signDelivery(privateKeyToAccount(node), domain, att, served);
    const segment = segmentStruct(att);
    return { segment, originSig: att.signature as `0x${string}`, served, nodeSig };
  }

  it("refuse a forged origin signature, a forged node signature, and equal hashes", async () => {
    const forgedOrigin = await evidence(generatePrivateKey());
    expect(
      await revertName(
        send(W.reporter, d.fraudProof, fraudProofAbi, "prove", [
          forgedOrigin.segment,
          forgedOrigin.originSig,
          nodeAddr,
          forgedOrigin.served,
          forgedOrigin.nodeSig,
        ]),
      ),
    ).toBe("NotStreamSigner");
    const forgedNode = await evidence(signingKey, generatePrivateKey());
    expect(
      await revertName(
        send(W.reporter, d.fraudProof, fraudProofAbi, "prove", [
          forgedNode.segment,
          forgedNode.originSig,
          nodeAddr,
          forgedNode.served,
          forgedNode.nodeSig,
        ]),
      ),
    ).toBe("NotNodeSignature");
    const honest = await evidence(signingKey, nodeKey, Buffer.from("true bytes"));
    expect(
      await revertName(
        send(W.reporter, d.fraudProof, fraudProofAbi, "prove", [
          honest.segment,
          honest.originSig,
          nodeAddr,
          honest.served,
          honest.nodeSig,
        ]),
      ),
    ).toBe("SameHash");
  });

  it("slash the node's stake with valid signatures, pay the reporter, and never twice", async () => {
    const e = await evidence();
    const stakeBefore = (
      (await read(d.registry, nodeRegistryAbi, "nodes", [nodeAddr])) as readonly [string, bigint, bigint]
    )[2];
    const reporterBefore = await balance(W.reporter.account.address);
    const ownerBefore = await balance(W.owner.account.address);
    await send(W.reporter, d.fraudProof, fraudProofAbi, "prove", [
      e.segment,
      e.originSig,
      nodeAddr,
      e.served,
      e.nodeSig,
    ]);
    const stakeAfter = (
      (await read(d.registry, nodeRegistryAbi, "nodes", [nodeAddr])) as readonly [string, bigint, bigint]
    )[2];
    expect(stakeAfter).toBe(stakeBefore / 2n); // slashBps 5000
    expect((await balance(W.reporter.account.address)) - reporterBefore).toBe(
      ((stakeBefore / 2n) * 2_000n) / 10_000n,
    );
    // The rest is forfeited (locked in the registry): the owner gains nothing from a slash.
    expect(await balance(W.owner.account.address)).toBe(ownerBefore);
    expect(await read(d.registry, nodeRegistryAbi, "forfeited")).toBe(
      stakeBefore / 2n - ((stakeBefore / 2n) * 2_000n) / 10_000n,
    );
    expect(
      await revertName(
        send(W.reporter, d.fraudProof, fraudProofAbi, "prove", [
          e.segment,
          e.originSig,
          nodeAddr,
          e.served,
          e.nodeSig,
        ]),
      ),
    ).toBe("AlreadyProven");
  });
});

describe("the remaining revert paths", () => {
  it("registry: slasher set once, zero stake refused", async () => {
    expect(
      await revertName(send(W.owner, d.registry, nodeRegistryAbi, "setSlasher", [W.owner.account.address])),
    ).toBe("SlasherAlreadySet");
    expect(await revertName(register(W.operator, chain.keys[6] as `0x${string}`, 0n))).toBe("ZeroAmount");
  });

  it("distributor: epochs only move forward, lists must match, unknown epochs are unknown", async () => {
    const root = `0x${"ab".repeat(32)}` as const;
    // Epochs 1-4 were posted above; 0 was never posted and lies behind the latest.
    expect(
      await revertName(send(W.settler, d.distributor, distributorAbi, "postRoot", [0n, 0n, root, [], []])),
    ).toBe("EpochNotAfterLatest");
    expect(
      await revertName(
        send(W.settler, d.distributor, distributorAbi, "postRoot", [9n, 4n, root, [POOL], []]),
      ),
    ).toBe("LengthMismatch");
    expect(
      await revertName(
        send(W.payee, d.distributor, distributorAbi, "claim", [99n, W.payee.account.address, 1n, []]),
      ),
    ).toBe("UnknownEpoch");
    expect(await revertName(send(W.owner, d.distributor, distributorAbi, "voidRoot", [99n]))).toBe(
      "UnknownEpoch",
    );
  });
});
