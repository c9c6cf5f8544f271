import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { deploymentDomain, distributorAbi, fraudAbi, segmentStruct } from "@streamrp2p/chain";
import { nodeRegistryAbi } from "@streamrp2p/contracts";
import {
  type SegmentAttestation,
  sha256Hex,
  signDelivery,
  signSegmentAttestation,
  streamIdToBytes32,
} from "@streamrp2p/protocol";
import type { Address, Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, revertName, startHarness } from "./harness.ts";

/**
 * Audit issue 11, finding 1, against the real FraudProof on anvil: a node's
 * delivery signature binds the exact attestation it relied on, so only a node
 * that contradicts its own statement is slashed.
 */
let h: Harness;
const STREAM = "restarted";
const signingKey = generatePrivateKey();
const nodeKey = generatePrivateKey();
const node = privateKeyToAccount(nodeKey).address;

beforeAll(async () => {
  h = await startHarness();
  await h.register(h.w.operator, nodeKey, 1_000n);
  // Fraud proofs need the stream's key bound on-chain: the settler's first draw from its pool binds it.
  const pool = await h.createPool(streamIdToBytes32(STREAM), signingKey, 10n, 100n);
  const t = StandardMerkleTree.of([[h.w.payee.account.address, "10"]], ["address", "uint256"]);
  const latest = (await h.read(h.d.distributor, distributorAbi, "latestEpoch")) as bigint;
  const base = (await h.read(h.d.distributor, distributorAbi, "lastValidEpoch")) as bigint;
  await h.send(h.w.settler, h.d.distributor, distributorAbi, "postRoot", [
    latest + 1n,
    base,
    t.root,
    [pool],
    [10n],
  ]);
}, 60_000);
afterAll(() => h?.stop());

const stakeOf = async (a: Address) =>
  ((await h.read(h.d.registry, nodeRegistryAbi, "nodes", [a])) as readonly [string, bigint, bigint])[2];

/** The deployment the proofs go to: every signature below is made for its chain and FraudProof. */
const domain = () => deploymentDomain(h.chain.chainId, h.d);

/** The streamer's attestation of `bytes` as segment `seq` (what the origin signs). */
const attest = (seq: number, bytes: string, producedAt: number) =>
  signSegmentAttestation(privateKeyToAccount(signingKey), domain(), {
    streamId: STREAM,
    rendition: "main",
    seq,
    initVersion: 0,
    sha256: sha256Hex(Buffer.from(bytes)),
    byteLength: bytes.length,
    durationMs: 1_000,
    producedAt,
  });

/** What a relay puts in x-srp-node-sig for an object it serves under `att` (protocol's signDelivery). */
const deliverySig = (key: Hex, att: SegmentAttestation, served: Hex) =>
  signDelivery(privateKeyToAccount(key), domain(), att, served);

const prove = (att: SegmentAttestation, served: Hex, nodeSig: Hex) =>
  revertName(
    h.send(h.w.attacker, h.d.fraudProof, fraudAbi, "prove", [
      segmentStruct(att),
      att.signature,
      node,
      served,
      nodeSig,
    ]),
  );

describe("attack 7: slashing an honest node with a second attestation", () => {
  it("a node's honest signature paired with another attestation of the same seq does not prove fraud; no stake moves", async () => {
    // The origin restarted (or the streamer signs twice on purpose): two attestations of seq 7, different bytes.
    const first = await attest(7, "bytes before the restart", 1_000);
    const second = await attest(7, "bytes after the restart", 2_000);
    // The node honestly served the first one and signed that (its x-srp-node-sig is public).
    const honest = await deliverySig(nodeKey, first, first.sha256 as Hex);
    const stake = await stakeOf(node);
    const attacker = await h.balance(h.w.attacker.account.address);
    // Paired with the second attestation, whose hash differs: the node never said that.
    expect(await prove(second, first.sha256 as Hex, honest)).toBe("NotNodeSignature");
    // Paired with the attestation it did rely on: it served exactly that hash.
    expect(await prove(first, first.sha256 as Hex, honest)).toBe("SameHash");
    expect(await stakeOf(node)).toBe(stake);
    expect(await h.balance(h.w.attacker.account.address)).toBe(attacker);
  });
});

describe("attack 7: a real fraud is slashed once", () => {
  it("a node signing other bytes than the attestation it names is slashed exactly once; the replay reverts", async () => {
    const att = await attest(8, "the streamer's bytes", 3_000);
    const served = sha256Hex(Buffer.from("the node's altered bytes"));
    const lie = await deliverySig(nodeKey, att, served);
    const stake = await stakeOf(node);
    const reporter = await h.balance(h.w.attacker.account.address);
    expect(await prove(att, served, lie)).toBe("did not revert");
    expect(await stakeOf(node)).toBe(stake / 2n); // slashBps 5000
    expect((await h.balance(h.w.attacker.account.address)) - reporter).toBe(
      ((stake / 2n) * 2_000n) / 10_000n,
    );
    expect(await prove(att, served, lie)).toBe("AlreadyProven");
    expect(await stakeOf(node)).toBe(stake / 2n);
  });
});
