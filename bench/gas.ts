/**
 * Gas of the settlement operations on a real EVM (anvil), and proof that
 * posting an epoch root costs the same for 10 and 10,000 payees and that a
 * claim stays within 80,000 gas (exit code 1 otherwise). Prints one
 * `RESULT <name> <value> <unit>` line per figure.
 *
 *   node --import tsx bench/gas.ts
 */

import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import {
  chainAt,
  deploymentDomain,
  distributorAbi,
  fraudAbi,
  poolIdOf,
  segmentStruct,
  signNodeConsent,
  signPoolConsent,
  wallet,
} from "@streamrp2p/chain";
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
  // Epochs 1-4 of 1 s (1970): long over, so roots can be posted back to back.
  epochMs: 1_000,
  firstEpoch: 1,
});
try {
  const c = chainAt(economy.chain.rpcUrl, economy.chain.chainId);
  const { client, deployment: d } = economy;
  const gasOf = economy.send;
  const rows: Array<[key: string, label: string, gas: bigint]> = [];
  const signing = generatePrivateKey();
  const stream = streamIdToBytes32("bench");
  const streamer = wallet(c, economy.keyOf("streamer")).account.address;
  const poolConsent = await signPoolConsent(client, d.pools, privateKeyToAccount(signing), stream, streamer);
  rows.push([
    "createPool",
    "createPool (signing key's EIP-712 consent)",
    await gasOf("streamer", d.pools, rewardPoolsAbi, "createPool", [
      stream,
      privateKeyToAccount(signing).address,
      parseEther("1000"),
      poolConsent.deadline,
      poolConsent.signature,
    ]),
  ]);
  const pool = poolIdOf(stream, privateKeyToAccount(signing).address);
  rows.push([
    "fund_first",
    "fund (first)",
    await gasOf("streamer", d.pools, rewardPoolsAbi, "fund", [pool, parseEther("500000")]),
  ]);
  rows.push([
    "fund_later",
    "fund (later)",
    await gasOf("supporter", d.pools, rewardPoolsAbi, "fund", [pool, parseEther("500000")]),
  ]);
  const nodeKey = generatePrivateKey();
  const node = privateKeyToAccount(nodeKey).address;
  const operator = wallet(c, economy.keyOf("operator")).account.address;
  const nodeConsent = await signNodeConsent(client, d.registry, privateKeyToAccount(nodeKey), operator);
  rows.push([
    "register",
    "node register (stake + node key's EIP-712 consent)",
    await gasOf("operator", d.registry, nodeRegistryAbi, "register", [
      node,
      parseEther("1000"),
      nodeConsent.deadline,
      nodeConsent.signature,
    ]),
  ]);

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
    gasOf("settler", d.distributor, distributorAbi, "postRoot", [
      epoch,
      epoch - 1n, // built on the previous root
      root,
      [pool],
      [parseEther("100")],
    ]);
  // The very first root also initialises latestEpoch and binds the stream's fraud-proof key
  // (zero-to-nonzero writes): measured apart.
  rows.push(["postRoot_first", "postRoot (first ever), 10 payees", await post(1n, small.root)]);
  rows.push(["postRoot_10_payees", "postRoot, 10 payees", await post(2n, small.root)]);
  rows.push(["postRoot_10000_payees", "postRoot, 10,000 payees", await post(3n, large.root)]);
  await new Promise((r) => setTimeout(r, 1_100));
  await client.request({ method: "evm_mine" as never, params: [] as never });
  const proofOf = (t: StandardMerkleTree<[string, string]>) => {
    for (const [i, v] of t.entries())
      if (v[0] === operator) return { amount: BigInt(v[1]), proof: t.getProof(i) };
    throw new Error("operator not in tree");
  };
  const p1 = proofOf(small);
  rows.push([
    "claim_first",
    "claim (first, 10-payee tree)",
    await gasOf("operator", d.distributor, distributorAbi, "claim", [1n, operator, p1.amount, p1.proof]),
  ]);
  const p2 = proofOf(large);
  rows.push([
    "claim_later",
    "claim (later, 10,000-payee tree)",
    await gasOf("operator", d.distributor, distributorAbi, "claim", [3n, operator, p2.amount, p2.proof]),
  ]);

  const truth = Buffer.from("true");
  // Signed for this deployment (chain id + its FraudProof), as the coordinator tells origins and relays.
  const domain = deploymentDomain(economy.chain.chainId, d);
  const att = await signSegmentAttestation(privateKeyToAccount(signing), domain, {
    streamId: "bench",
    rendition: "main",
    seq: 1,
    initVersion: 0,
    sha256: sha256Hex(truth),
    byteLength: 4,
    durationMs: 1000,
    producedAt: 1,
  });
  const served = sha256Hex(Buffer.from("lies"));
  // The node's signature names the attestation it relied on (its digest) and the hash it served.
  const nodeSig = await signDelivery(privateKeyToAccount(nodeKey), domain, att, served);
  const segment = segmentStruct(att);
  rows.push([
    "fraud_proof",
    "fraud proof (verify 2 sigs + slash)",
    await gasOf("supporter", d.fraudProof, fraudAbi, "prove", [
      segment,
      att.signature,
      node,
      served,
      nodeSig,
    ]),
  ]);

  // Budget cut and void: the owner-free and owner-only paths the audit fixes added.
  rows.push([
    "setBudget_cut",
    "setBudget (a cut, waits for the next root)",
    await gasOf("streamer", d.pools, rewardPoolsAbi, "setBudget", [pool, parseEther("10")]),
  ]);
  await post(4n, small.root);
  rows.push([
    "voidRoot",
    "voidRoot (one root, one pool)",
    await gasOf("owner", d.distributor, distributorAbi, "voidRoot", [4n]),
  ]);

  for (const [, label, gas] of rows) say(`${label.padEnd(52)} ${gas.toString().padStart(8)} gas`);
  // One machine-readable line per figure: RESULT <name> <value> <unit>.
  for (const [key, , gas] of rows) console.log(`RESULT ${key} ${gas} gas`);
  const gasOfRow = (key: string) => rows.find(([k]) => k === key)?.[2] ?? -1n;
  const same = gasOfRow("postRoot_10_payees") === gasOfRow("postRoot_10000_payees");
  say(`root post gas for 10 vs 10,000 payees: ${same ? "identical" : "DIFFERENT"}`);
  const [claimFirst, claimLater] = [gasOfRow("claim_first"), gasOfRow("claim_later")];
  const claimMax = Math.max(Number(claimFirst), Number(claimLater)); // gas fits a double exactly
  say(`claim: at most ${claimMax} gas (budget 80,000): ${claimMax <= 80_000 ? "within" : "OVER"}`);
  console.log(`RESULT postRoot_gas_independent_of_payees ${same ? 1 : 0} bool`);
  if (!same || claimMax > 80_000 || claimMax < 0) process.exitCode = 1;
} finally {
  await economy.stop();
}
