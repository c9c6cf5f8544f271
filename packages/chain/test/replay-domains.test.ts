import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import {
  chainAt,
  type Deployment,
  type DevChain,
  deployContracts,
  deploymentDomain,
  distributorAbi,
  fraudAbi,
  poolIdOf,
  publicClient,
  segmentStruct,
  signNodeConsent,
  signPoolConsent,
  startDevChain,
  type Wallet,
  wallet,
} from "@streamrp2p/chain";
import { devTokenAbi, nodeRegistryAbi, rewardPoolsAbi } from "@streamrp2p/contracts";
import {
  attestationDigest,
  eip712Domain,
  OFF_CHAIN_DOMAIN,
  RENDITION_INIT,
  RENDITION_MAIN,
  type SegmentAttestation,
  type SigningDomain,
  sha256Hex,
  signDelivery,
  signSegmentAttestation,
  streamIdToBytes32,
} from "@streamrp2p/protocol";
import {
  type Abi,
  type Address,
  domainSeparator,
  getAddress,
  type Hex,
  type PublicClient,
  parseEther,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contractSender, DEFAULTS, ROLES, type Role, revertName } from "./harness.ts";

/**
 * Audit issue 11, finding 6 ("replay across deployments"), on-chain, against
 * real FraudProof contracts on anvil: segment attestations and node delivery
 * signatures are EIP-712 over ("StreamrP2P", "2", chainId, verifyingContract =
 * the FraudProof), so a genuine fraud proof of one deployment is worth nothing
 * in another one that knows the same stream key and the same staked node; and
 * the init version a segment plays with is one of the signed fields.
 *
 * Three complete deployments: A and B on one anvil (chain 31337, two
 * FraudProof contracts), C on a second anvil with another chain id, deployed
 * by the same owner key at the same nonces, so its FraudProof has A's address:
 * only the chain id tells their signatures apart.
 */
const OTHER_CHAIN_ID = 31_338;
const STREAM = "multistreamed";
/** The streamer's one segment-signing key, bound to STREAM in every deployment. */
const signingKey = generatePrivateKey();
/** The relay's one node key, registered and staked in every deployment. */
const nodeKey = generatePrivateKey();
const node = privateKeyToAccount(nodeKey).address;
const STAKE = 1_000n;

/** One complete deployment (token, registry, pools, distributor, FraudProof) with its chain's clients. */
interface Net {
  client: PublicClient;
  w: Record<Role, Wallet>;
  d: Deployment;
  domain: SigningDomain;
  send(who: Wallet, address: Address, abi: Abi, functionName: string, args: unknown[]): Promise<void>;
  read(address: Address, abi: Abi, functionName: string, args?: unknown[]): Promise<unknown>;
}

async function deployNet(chain: DevChain, client: PublicClient): Promise<Net> {
  const c = chainAt(chain.rpcUrl, chain.chainId);
  const w = Object.fromEntries(ROLES.map((r, i) => [r, wallet(c, chain.keys[i] as Hex)])) as Record<
    Role,
    Wallet
  >;
  const d = await deployContracts(client, w.owner, { ...DEFAULTS, settler: w.settler.account.address });
  const sendTx = contractSender(client);
  const send = async (who: Wallet, address: Address, abi: Abi, functionName: string, args: unknown[]) => {
    await sendTx(who, address, abi, functionName, args);
  };
  const read = (address: Address, abi: Abi, functionName: string, args: unknown[] = []) =>
    client.readContract({ address, abi, functionName, args } as never) as Promise<unknown>;
  const net: Net = { client, w, d, domain: deploymentDomain(chain.chainId, d), send, read };

  // The streamer's pool for (STREAM, signing key), bound by the settler's first draw; the node staked.
  for (const r of ["streamer", "operator", "attacker"] as const) {
    await send(w.owner, d.token, devTokenAbi, "mint", [w[r].account.address, parseEther("1000")]);
    for (const spender of [d.pools, d.registry])
      await send(w[r], d.token, devTokenAbi, "approve", [spender, parseEther("1000")]);
  }
  const stream = streamIdToBytes32(STREAM);
  const signer = privateKeyToAccount(signingKey);
  const poolConsent = await signPoolConsent(client, d.pools, signer, stream, w.streamer.account.address);
  await send(w.streamer, d.pools, rewardPoolsAbi, "createPool", [
    stream,
    signer.address,
    10n,
    poolConsent.deadline,
    poolConsent.signature,
  ]);
  const pool = poolIdOf(stream, signer.address);
  await send(w.streamer, d.pools, rewardPoolsAbi, "fund", [pool, 100n]);
  const t = StandardMerkleTree.of([[w.payee.account.address, "10"]], ["address", "uint256"]);
  const latest = (await read(d.distributor, distributorAbi, "latestEpoch")) as bigint;
  const base = (await read(d.distributor, distributorAbi, "lastValidEpoch")) as bigint;
  await send(w.settler, d.distributor, distributorAbi, "postRoot", [
    latest + 1n,
    base,
    t.root,
    [pool],
    [10n],
  ]);
  const nodeConsent = await signNodeConsent(
    client,
    d.registry,
    privateKeyToAccount(nodeKey),
    w.operator.account.address,
  );
  await send(w.operator, d.registry, nodeRegistryAbi, "register", [
    node,
    STAKE,
    nodeConsent.deadline,
    nodeConsent.signature,
  ]);
  expect(await read(d.pools, rewardPoolsAbi, "signerOf", [stream])).toBe(signer.address);
  return net;
}

let chain: DevChain;
let other: DevChain;
let A: Net;
let B: Net;
let C: Net;

beforeAll(async () => {
  [chain, other] = await Promise.all([startDevChain(), startDevChain({ chainId: OTHER_CHAIN_ID })]);
  const client = publicClient(chainAt(chain.rpcUrl, chain.chainId));
  A = await deployNet(chain, client);
  B = await deployNet(chain, client);
  C = await deployNet(other, publicClient(chainAt(other.rpcUrl, other.chainId)));
}, 120_000);
afterAll(async () => {
  await Promise.all([chain?.stop(), other?.stop()]);
});

/** The stream key's attestation of `bytes` as segment `seq` of `rendition`, signed for `domain`. */
function attest(
  domain: SigningDomain,
  seq: number,
  bytes: string,
  initVersion: number,
  rendition: string = RENDITION_MAIN,
): Promise<SegmentAttestation> {
  return signSegmentAttestation(privateKeyToAccount(signingKey), domain, {
    streamId: STREAM,
    rendition,
    seq,
    initVersion,
    sha256: sha256Hex(Buffer.from(bytes)),
    byteLength: bytes.length,
    durationMs: 1_000,
    producedAt: 1_700_000_000_000 + seq,
  });
}

/** What a lying node puts in x-srp-node-sig: it relied on `att` (signed for `domain`) and served other bytes. */
const lie = (domain: SigningDomain, att: SegmentAttestation, served: Hex) =>
  signDelivery(privateKeyToAccount(nodeKey), domain, att, served);

const prove = (
  net: Net,
  segment: ReturnType<typeof segmentStruct>,
  originSig: string,
  served: Hex,
  nodeSig: Hex,
) =>
  revertName(
    net.send(net.w.attacker, net.d.fraudProof, fraudAbi, "prove", [
      segment,
      originSig,
      node,
      served,
      nodeSig,
    ]),
  );

const stakeOf = async (net: Net) =>
  (
    (await net.read(net.d.registry, nodeRegistryAbi, "nodes", [node])) as readonly [Address, bigint, bigint]
  )[2];

/** Everything a slash on `net` could move: the node's stake, `forfeited`, and every token balance there. */
async function state(net: Net): Promise<bigint[]> {
  const who: Address[] = [
    ...ROLES.map((r) => net.w[r].account.address),
    net.d.registry,
    net.d.pools,
    net.d.distributor,
    net.d.fraudProof,
  ];
  const balances = await Promise.all(
    who.map((a) => net.read(net.d.token, devTokenAbi, "balanceOf", [a]) as Promise<bigint>),
  );
  return [
    await stakeOf(net),
    (await net.read(net.d.registry, nodeRegistryAbi, "forfeited")) as bigint,
    ...balances,
  ];
}

describe("attack 9: replaying a fraud proof across deployments (issue 11, finding 6)", () => {
  it("each FraudProof's EIP-712 domain is the one its deployment signs for; A's and C's share an address", async () => {
    expect(A.d.fraudProof).not.toBe(B.d.fraudProof);
    expect(C.d.fraudProof).toBe(A.d.fraudProof);
    expect(C.domain.chainId).not.toBe(A.domain.chainId);
    const facts = await attest(A.domain, 1, "segment 1", 0);
    const digests = new Set<Hex>();
    for (const net of [A, B, C]) {
      const [, name, version, chainId, verifyingContract] = (await net.read(
        net.d.fraudProof,
        fraudAbi,
        "eip712Domain",
      )) as readonly [Hex, string, string, bigint, Address];
      const expected = eip712Domain(net.domain);
      expect({
        name,
        version,
        chainId: Number(chainId),
        verifyingContract: getAddress(verifyingContract),
      }).toEqual({ ...expected, verifyingContract: getAddress(expected.verifyingContract) });
      expect(await net.read(net.d.fraudProof, fraudAbi, "DOMAIN_SEPARATOR")).toBe(
        domainSeparator({ domain: expected }),
      );
      // The contract's digest of a Segment is the protocol's attestation digest in that domain.
      const digest = (await net.read(net.d.fraudProof, fraudAbi, "segmentDigest", [
        segmentStruct(facts),
      ])) as Hex;
      expect(digest).toBe(attestationDigest(facts, net.domain));
      digests.add(digest);
    }
    expect(digests.size).toBe(3); // the same facts are three different statements
  });

  it("a genuine proof of deployment A slashes on A and reverts on deployment B of the same chain; nothing moves on B", async () => {
    const att = await attest(A.domain, 10, "the streamer's bytes", 9);
    const served = sha256Hex(Buffer.from("the node's altered bytes"));
    const nodeSig = await lie(A.domain, att, served);
    const onB = await state(B);
    const onC = await state(C);

    // A's proof submitted to B's FraudProof: the stream key's signature does not recover under B's domain.
    expect(await prove(B, segmentStruct(att), att.signature, served, nodeSig)).toBe("NotStreamSigner");
    // The streamer multistreams: the same facts signed for B are genuine there, but the node's
    // signature names A's attestation digest, not B's.
    const sameFactsForB = await attest(B.domain, 10, "the streamer's bytes", 9);
    expect(await prove(B, segmentStruct(sameFactsForB), sameFactsForB.signature, served, nodeSig)).toBe(
      "NotNodeSignature",
    );
    // C: the same FraudProof address on another chain. A's proof is still A's.
    expect(await prove(C, segmentStruct(att), att.signature, served, nodeSig)).toBe("NotStreamSigner");
    const sameFactsForC = await attest(C.domain, 10, "the streamer's bytes", 9);
    expect(await prove(C, segmentStruct(sameFactsForC), sameFactsForC.signature, served, nodeSig)).toBe(
      "NotNodeSignature",
    );
    expect(await state(B)).toEqual(onB);
    expect(await state(C)).toEqual(onC);

    // Control: on A, where it was made for, the same proof slashes (stake halved, reporter paid 20 %).
    const stake = await stakeOf(A);
    const reporter = (await A.read(A.d.token, devTokenAbi, "balanceOf", [
      A.w.attacker.account.address,
    ])) as bigint;
    expect(await prove(A, segmentStruct(att), att.signature, served, nodeSig)).toBe("did not revert");
    expect(await stakeOf(A)).toBe(stake / 2n);
    expect(
      ((await A.read(A.d.token, devTokenAbi, "balanceOf", [A.w.attacker.account.address])) as bigint) -
        reporter,
    ).toBe(((stake / 2n) * 2_000n) / 10_000n);

    // Once proven on A, still nothing on B or C: no token moved there at any point.
    expect(await prove(B, segmentStruct(att), att.signature, served, nodeSig)).toBe("NotStreamSigner");
    expect(await prove(C, segmentStruct(att), att.signature, served, nodeSig)).toBe("NotStreamSigner");
    expect(await state(B)).toEqual(onB);
    expect(await state(C)).toEqual(onC);
    expect(await stakeOf(B)).toBe(STAKE);
  });

  it("signatures made for no chain, for A's contract on another chain id, or for another contract do not verify on A", async () => {
    const served = sha256Hex(Buffer.from("altered"));
    const elsewhere: Array<[string, SigningDomain]> = [
      ["OFF_CHAIN_DOMAIN", OFF_CHAIN_DOMAIN],
      ["A's FraudProof on chain 1", { chainId: 1, verifyingContract: A.d.fraudProof }],
      ["A's FraudProof on chain 0", { chainId: 0, verifyingContract: A.d.fraudProof }],
      ["A's chain, B's FraudProof", B.domain],
      ["A's chain, A's registry", { chainId: A.domain.chainId, verifyingContract: A.d.registry }],
    ];
    const onA = await state(A);
    let seq = 100;
    for (const [name, domain] of elsewhere) {
      seq++;
      const foreign = await attest(domain, seq, "the streamer's bytes", 99);
      const foreignLie = await lie(domain, foreign, served);
      // Both signatures made for the other domain: the stream key does not recover on A.
      expect(
        [name, await prove(A, segmentStruct(foreign), foreign.signature, served, foreignLie)],
        name,
      ).toEqual([name, "NotStreamSigner"]);
      // A's genuine attestation of the same facts, paired with the node's signature for the other domain.
      const own = await attest(A.domain, seq, "the streamer's bytes", 99);
      expect([name, await prove(A, segmentStruct(own), own.signature, served, foreignLie)], name).toEqual([
        name,
        "NotNodeSignature",
      ]);
      // And the node's signature over A's attestation digest, but itself signed in the other domain.
      const mixed = await signDelivery(privateKeyToAccount(nodeKey), domain, own, served);
      expect([name, await prove(A, segmentStruct(own), own.signature, served, mixed)], name).toEqual([
        name,
        "NotNodeSignature",
      ]);
    }
    expect(await state(A)).toEqual(onA);
  });

  it("the init version is signed: a valid proof with its Segment's initVersion changed reverts NotStreamSigner", async () => {
    const served = sha256Hex(Buffer.from("altered segment"));
    // A media segment that plays with init 20, and the init object 20 itself (its own version).
    const media = await attest(A.domain, 21, "segment 21", 20);
    const init = await attest(A.domain, 20, "init 20", 20, RENDITION_INIT);
    const onA = await state(A);
    for (const att of [media, init]) {
      const nodeSig = await lie(A.domain, att, served);
      for (const initVersion of [0n, 19n, 21n, 2n ** 64n - 1n]) {
        const relabelled = { ...segmentStruct(att), initVersion };
        expect([
          att.rendition,
          initVersion,
          await prove(A, relabelled, att.signature, served, nodeSig),
        ]).toEqual([att.rendition, initVersion, "NotStreamSigner"]);
      }
    }
    expect(await state(A)).toEqual(onA);
    // Control: unchanged, the media proof slashes; then the init proof (another attestation) slashes too.
    const stake = await stakeOf(A);
    expect(
      await prove(A, segmentStruct(media), media.signature, served, await lie(A.domain, media, served)),
    ).toBe("did not revert");
    expect(await stakeOf(A)).toBe(stake / 2n);
    expect(
      await prove(A, segmentStruct(init), init.signature, served, await lie(A.domain, init, served)),
    ).toBe("did not revert");
    expect(await stakeOf(A)).toBe(stake / 2n - stake / 4n);
  });
});
