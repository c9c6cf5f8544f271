/**
 * Gas of the settlement operations on a real EVM (anvil), and proof that
 * posting an epoch root costs the same for 10 and 10,000 payees.
 *
 *   node --import tsx bench/gas.ts
 */

import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { chainAt, distributorAbi, fraudAbi, segmentStruct, wallet } from "@streamrp2p/chain";
import { startDevEconomy } from "@streamrp2p/cli";
import { nodeRegistryAbi, rewardPoolsAbi } from "@streamrp2p/contracts";
import { sha256Hex, signDelivery, signSegmentAttestation, streamIdToBytes32 } from "@streamrp2p/protocol";
import { type Address, type Hex, parseEther } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

const say = (line: string) => console.log(`[bench] ${line}`);
const economy = await startDevEconomy({
  disputeWindowSeconds: 1,
  poolFunding: 1_000_000,
  epochBudget: 1_000,
});
try {
  const c = chainAt(economy.chain.rpcUrl, economy.chain.chainId);
  const { client, deployment: d } = economy;
  const gasOf = economy.send;
  const rows: Array<[string, bigint]> = [];
  const signing = generatePrivateKey();
  const stream = streamIdToBytes32("bench");
  rows.push([
    "createPool",
    await gasOf("streamer", d.pools, rewardPoolsAbi, "createPool", [
      stream,
      privateKeyToAccount(signing).address,
      parseEther("1000"),
    ]),
  ]);
  rows.push([
    "fund (first)",
    await gasOf("streamer", d.pools, rewardPoolsAbi, "fund", [stream, parseEther("500000")]),
  ]);
  rows.push([
    "fund (later)",
    await gasOf("supporter", d.pools, rewardPoolsAbi, "fund", [stream, parseEther("500000")]),
  ]);
  const nodeKey = generatePrivateKey();
  const node = privateKeyToAccount(nodeKey).address;
  rows.push([
    "node register (with stake)",
    await gasOf("operator", d.registry, nodeRegistryAbi, "register", [node, parseEther("1000")]),
  ]);

  const operator = wallet(c, economy.keyOf("operator")).account.address;
  const payees = (n: number, first: Address, amount: bigint) =>
    StandardMerkleTree.of(
      Array.from({ length: n }, (_, i): [string, string] => [
        i === 0 ? first : privateKeyToAccount(`0x${(i + 1).toString(16).padStart(64, "0")}` as Hex).address,
        (amount + BigInt(i)).toString(),
      ]),
      ["address", "uint256"],
    );
  say("building trees of 10 and 10,000 payees…");
  const small = payees(10, operator, parseEther("1"));
  const large = payees(10_000, operator, parseEther("2"));
  const post = (epoch: bigint, root: string) =>
    gasOf("settler", d.distributor, distributorAbi, "postRoot", [epoch, root, [stream], [parseEther("100")]]);
  // The very first root also initialises latestEpoch (a zero-to-nonzero write): measured apart.
  rows.push(["postRoot (first ever), 10 payees", await post(1n, small.root)]);
  rows.push(["postRoot, 10 payees", await post(2n, small.root)]);
  rows.push(["postRoot, 10,000 payees", await post(3n, large.root)]);
  await new Promise((r) => setTimeout(r, 1_100));
  await client.request({ method: "evm_mine" as never, params: [] as never });
  const proofOf = (t: StandardMerkleTree<[string, string]>) => {
    for (const [i, v] of t.entries())
      if (v[0] === operator) return { amount: BigInt(v[1]), proof: t.getProof(i) };
    throw new Error("operator not in tree");
  };
  const p1 = proofOf(small);
  rows.push([
    "claim (first, 10-payee tree)",
    await gasOf("operator", d.distributor, distributorAbi, "claim", [1n, operator, p1.amount, p1.proof]),
  ]);
  const p2 = proofOf(large);
  rows.push([
    "claim (later, 10,000-payee tree)",
    await gasOf("operator", d.distributor, distributorAbi, "claim", [3n, operator, p2.amount, p2.proof]),
  ]);

  const truth = Buffer.from("true");
  const att = await signSegmentAttestation(privateKeyToAccount(signing), {
    streamId: "bench",
    rendition: "main",
    seq: 1,
    sha256: sha256Hex(truth),
    byteLength: 4,
    durationMs: 1000,
    producedAt: 1,
  });
  const served = sha256Hex(Buffer.from("lies"));
  const nodeSig = await signDelivery(privateKeyToAccount(nodeKey), {
    streamId: "bench",
    rendition: "main",
    seq: 1,
    sha256: served,
  });
  const segment = segmentStruct(att);
  rows.push([
    "fraud proof (verify 2 sigs + slash)",
    await gasOf("supporter", d.fraudProof, fraudAbi, "prove", [
      segment,
      att.signature,
      node,
      served,
      nodeSig,
    ]),
  ]);

  for (const [name, gas] of rows) say(`${name.padEnd(38)} ${gas.toString().padStart(8)} gas`);
  const same = rows[5]?.[1] === rows[6]?.[1];
  say(`root post gas for 10 vs 10,000 payees: ${same ? "identical" : "DIFFERENT"}`);
  if (!same) process.exitCode = 1;
} finally {
  await economy.stop();
}
