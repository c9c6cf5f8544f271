import { existsSync } from "node:fs";
import { type Consent, distributorAbi, poolIdOf, signNodeConsent, signPoolConsent } from "@streamrp2p/chain";
import { devTokenAbi, nodeRegistryAbi, rewardPoolsAbi } from "@streamrp2p/contracts";
import { streamIdToBytes32 } from "@streamrp2p/protocol";
import { type Abi, type Address, formatEther, type Hex, parseEther } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { type Flags, parseFlags, stringFlag } from "./args.ts";
import { CHAIN_FLAGS, type ChainContext, chainContext } from "./chain-context.ts";
import { runNodeStatus } from "./cmd-node-status.ts";
import { loadOrCreateKey } from "./keys.ts";

/** Where `streamrp2p relay` keeps this machine's node key. */
const NODE_KEY_FILE = ".data/relay/node.key";

export const chainHelp = `streamrp2p pool create STREAM --budget TOKENS (--signer-key-file FILE | --signer ADDRESS [--consent SIG --deadline N])
streamrp2p pool consent STREAM --streamer ADDRESS --key-file SIGNING_KEY   (prints the signing key's consent)
streamrp2p pool fund STREAM TOKENS [--signer ADDRESS] | pool show STREAM [--signer ADDRESS]
  (a pool belongs to a stream and its signing key; --signer defaults to the key the coordinator registered)
streamrp2p node register [NODE] --stake TOKENS [--node-key-file ${NODE_KEY_FILE} | --consent SIG --deadline N]
streamrp2p node consent OPERATOR --key-file NODE_KEY   (prints the node key's consent to be registered by OPERATOR)
streamrp2p node stake NODE TOKENS | node unbond NODE TOKENS | node withdraw NODE
streamrp2p node backers NODE [--set 0xBACKER:BPS,…]   (operator-signed: backers' shares of the node's rewards)
streamrp2p node status [NODE] [--coordinator URL[,URL...]] [--key-file .data/relay/node.key] [--json]
  (streams, viewers, bytes served, reputation with reasons, pending and claimable rewards per payee)
streamrp2p claim
  On-chain actions. Common flags: --coordinator URL[,URL...] (default http://127.0.0.1:7700; it names the chain and
  contracts) and --key-file FILE (or env SRP_PRIVATE_KEY). Keys are never printed. Amounts are in whole tokens.`;

async function send(
  ctx: ChainContext,
  address: Address,
  abi: Abi,
  functionName: string,
  args: unknown[],
): Promise<Hex> {
  const { request } = await ctx.client.simulateContract({
    account: ctx.wallet.account,
    address,
    abi,
    functionName,
    args,
  } as never);
  const hash = await ctx.wallet.writeContract(request as never);
  const receipt = await ctx.client.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new Error(`${functionName} reverted (tx ${hash})`);
  console.log(`${functionName}: tx ${hash} (gas ${receipt.gasUsed})`);
  return hash;
}

/** Approves `spender` for `amount` when the allowance is short. */
async function ensureAllowance(ctx: ChainContext, spender: Address, amount: bigint): Promise<void> {
  const allowance = (await ctx.client.readContract({
    address: ctx.contracts.token,
    abi: devTokenAbi,
    functionName: "allowance",
    args: [ctx.wallet.account.address, spender],
  })) as bigint;
  if (allowance < amount) await send(ctx, ctx.contracts.token, devTokenAbi, "approve", [spender, amount]);
}

function need(value: string | undefined, what: string): string {
  if (!value) throw new Error(`missing ${what}\n\n${chainHelp}`);
  return value;
}

const CONSENT_FLAGS = { consent: { type: "string" }, deadline: { type: "string" } } as const;

/** A consent given on the command line (--consent SIG --deadline N), if any. */
function consentFlags(flags: Flags): Consent | undefined {
  const signature = stringFlag(flags, "consent", "");
  if (!signature) return undefined;
  if (!/^0x[0-9a-fA-F]{130}$/.test(signature))
    throw new Error("--consent must be a 65-byte 0x-hex signature");
  return {
    signature: signature as Hex,
    deadline: BigInt(need(stringFlag(flags, "deadline", ""), "--deadline")),
  };
}

const printConsent = (c: Consent, extra = "") =>
  console.log(`${extra}--consent ${c.signature} --deadline ${c.deadline}`);

/** The pool's signing key: --signer, else the key the coordinator registered for the stream. */
async function signerOf(ctx: ChainContext, stream: string, flags: Flags): Promise<Address> {
  const given = stringFlag(flags, "signer", "");
  if (given) return given as Address;
  const res = await ctx.coordinatorGet(`/v1/streams/${encodeURIComponent(stream)}`);
  if (!res.ok) throw new Error(`stream ${stream} is not registered with the coordinator: give --signer`);
  return ((await res.json()) as { signer: Address }).signer;
}

export async function runPool(argv: string[]): Promise<void> {
  const [action, stream, ...more] = argv;
  const amount = more[0]?.startsWith("--") ? undefined : more[0];
  const rest = amount === undefined ? more : more.slice(1);
  const flags = parseFlags(rest, {
    ...CHAIN_FLAGS,
    ...CONSENT_FLAGS,
    signer: { type: "string" },
    "signer-key-file": { type: "string" },
    streamer: { type: "string" },
    budget: { type: "string" },
  });
  const name = need(stream, "STREAM");
  const id = streamIdToBytes32(name);
  if (action === "show") {
    const ctx = await chainContext(flags, false);
    const signer = await signerOf(ctx, name, flags);
    const poolId = poolIdOf(id, signer);
    const [streamer, , , , balance] = (await ctx.client.readContract({
      address: ctx.contracts.pools,
      abi: rewardPoolsAbi,
      functionName: "pools",
      args: [poolId],
    })) as readonly [Address, Address, bigint, Hex, bigint, ...unknown[]];
    if (/^0x0{40}$/.test(streamer)) throw new Error(`no pool for ${name} signed by ${signer}`);
    const budget = (await ctx.client.readContract({
      address: ctx.contracts.pools,
      abi: rewardPoolsAbi,
      functionName: "budgetOf",
      args: [poolId],
    })) as bigint;
    console.log(
      `pool ${name} (${poolId}): streamer ${streamer}, signer ${signer}, balance ${formatEther(balance)}, epoch budget ${formatEther(budget)}`,
    );
    return;
  }
  const ctx = await chainContext(flags);
  if (action === "consent") {
    // Run with the signing key: lets STREAMER create this stream's pool for it.
    const signer = ctx.account;
    const streamer = need(stringFlag(flags, "streamer", ""), "--streamer") as Address;
    const c = await signPoolConsent(ctx.client, ctx.contracts.pools, signer, id, streamer);
    printConsent(c, `--signer ${signer.address} `);
  } else if (action === "create") {
    const budget = parseEther(need(stringFlag(flags, "budget", ""), "--budget"));
    const keyFile = stringFlag(flags, "signer-key-file", "");
    const me = ctx.wallet.account.address;
    let signer: Address;
    let consent: Consent;
    if (keyFile) {
      const account = privateKeyToAccount(loadOrCreateKey(keyFile).key);
      signer = account.address;
      consent = await signPoolConsent(ctx.client, ctx.contracts.pools, account, id, me);
    } else {
      signer = need(stringFlag(flags, "signer", ""), "--signer or --signer-key-file") as Address;
      // The signing key itself needs no signature: being the sender is its consent.
      consent = consentFlags(flags) ?? { signature: "0x", deadline: 0n };
      if (consent.signature === "0x" && signer.toLowerCase() !== me.toLowerCase())
        throw new Error("--signer is another key: give --signer-key-file or its --consent and --deadline");
    }
    await send(ctx, ctx.contracts.pools, rewardPoolsAbi, "createPool", [
      id,
      signer,
      budget,
      consent.deadline,
      consent.signature,
    ]);
    console.log(`pool ${name}: id ${poolIdOf(id, signer)}`);
  } else if (action === "fund") {
    const value = parseEther(need(amount, "TOKENS"));
    const poolId = poolIdOf(id, await signerOf(ctx, name, flags));
    await ensureAllowance(ctx, ctx.contracts.pools, value);
    await send(ctx, ctx.contracts.pools, rewardPoolsAbi, "fund", [poolId, value]);
  } else {
    throw new Error(chainHelp);
  }
}

/** The node key's consent for `register`: from --consent, else signed with the node key file. */
async function nodeConsent(ctx: ChainContext, flags: Flags, node: string | undefined) {
  const given = consentFlags(flags);
  if (given) return { node: need(node, "NODE") as Address, consent: given };
  const file = stringFlag(flags, "node-key-file", NODE_KEY_FILE);
  if (!existsSync(file))
    throw new Error(`no node key at ${file}: give --node-key-file, or --consent and --deadline`);
  const account = privateKeyToAccount(loadOrCreateKey(file).key);
  if (node && node.toLowerCase() !== account.address.toLowerCase())
    throw new Error(`${file} is the key of ${account.address}, not of ${node}`);
  const consent = await signNodeConsent(
    ctx.client,
    ctx.contracts.registry,
    account,
    ctx.wallet.account.address,
  );
  return { node: account.address, consent };
}

export async function runNode(argv: string[]): Promise<void> {
  if (argv[0] === "status") return runNodeStatus(argv.slice(1));
  const [action, first, ...more] = argv;
  // NODE is optional for register (the node key file names it): keep flags out of the positionals.
  const node = first?.startsWith("--") ? undefined : first;
  const afterNode = node === undefined && first !== undefined ? [first, ...more] : more;
  const amount = afterNode[0]?.startsWith("--") ? undefined : afterNode[0];
  const rest = amount === undefined ? afterNode : afterNode.slice(1);
  const flags = parseFlags(rest, {
    ...CHAIN_FLAGS,
    ...CONSENT_FLAGS,
    "node-key-file": { type: "string" },
    stake: { type: "string" },
    set: { type: "string" },
  });
  const ctx = await chainContext(flags);
  const { registry } = ctx.contracts;
  if (action === "consent") {
    // Run with the node key: lets OPERATOR register this node.
    const operator = need(node, "OPERATOR") as Address;
    printConsent(await signNodeConsent(ctx.client, registry, ctx.account, operator));
    return;
  }
  if (action === "register") {
    const value = parseEther(need(stringFlag(flags, "stake", ""), "--stake"));
    const { node: addr, consent } = await nodeConsent(ctx, flags, node);
    await ensureAllowance(ctx, registry, value);
    await send(ctx, registry, nodeRegistryAbi, "register", [
      addr,
      value,
      consent.deadline,
      consent.signature,
    ]);
    return;
  }
  const addr = need(node, "NODE") as Address;
  if (action === "stake") {
    const value = parseEther(need(amount, "TOKENS"));
    await ensureAllowance(ctx, registry, value);
    await send(ctx, registry, nodeRegistryAbi, "addStake", [addr, value]);
  } else if (action === "unbond") {
    await send(ctx, registry, nodeRegistryAbi, "unbond", [addr, parseEther(need(amount, "TOKENS"))]);
  } else if (action === "withdraw") {
    await send(ctx, registry, nodeRegistryAbi, "withdraw", [addr]);
  } else if (action === "backers") {
    const set = stringFlag(flags, "set", "");
    if (set) {
      // --set 0xBACKER:2500,0xOTHER:1000 (basis points of the node's rewards)
      const pairs = set.split(",").map((p) => p.split(":") as [string, string]);
      await send(ctx, registry, nodeRegistryAbi, "setBackers", [
        addr,
        pairs.map((p) => p[0]),
        pairs.map((p) => Number(p[1])),
      ]);
    }
    const backers = (await ctx.client.readContract({
      address: registry,
      abi: nodeRegistryAbi,
      functionName: "backersOf",
      args: [addr],
    })) as readonly { account: string; bps: number }[];
    const operator = await ctx.client.readContract({
      address: registry,
      abi: nodeRegistryAbi,
      functionName: "operatorOf",
      args: [addr],
    });
    const backed = backers.reduce((n, b) => n + Number(b.bps), 0);
    console.log(`node ${addr}: operator ${String(operator)} keeps ${(10_000 - backed) / 100} %`);
    for (const b of backers) console.log(`  backer ${b.account}: ${Number(b.bps) / 100} %`);
  } else {
    throw new Error(chainHelp);
  }
}

/** Finds the newest claimable settled epoch with a proof for this account and claims everything owed. */
export async function runClaim(argv: string[]): Promise<void> {
  const flags = parseFlags(argv, { ...CHAIN_FLAGS });
  const ctx = await chainContext(flags);
  const account = ctx.wallet.account.address.toLowerCase() as Address;
  const { distributor, token } = ctx.contracts;
  const latest = (await ctx.client.readContract({
    address: distributor,
    abi: distributorAbi,
    functionName: "latestEpoch",
  })) as bigint;
  const claimed = (await ctx.client.readContract({
    address: distributor,
    abi: distributorAbi,
    functionName: "claimed",
    args: [account],
  })) as bigint;
  for (let epoch = latest; epoch > 0n && epoch > latest - 1000n; epoch--) {
    if (
      !(await ctx.client.readContract({
        address: distributor,
        abi: distributorAbi,
        functionName: "isClaimable",
        args: [epoch],
      }))
    )
      continue;
    const res = await ctx.coordinatorGet(`/v1/epochs/${epoch}/proofs/${account}`);
    if (res.status === 404) continue;
    const proof = (await res.json()) as { cumulative: string; proof: Hex[] };
    const owed = BigInt(proof.cumulative) - claimed;
    console.log(
      `claimable as of epoch ${epoch}: ${formatEther(owed > 0n ? owed : 0n)} (cumulative ${formatEther(BigInt(proof.cumulative))}, claimed ${formatEther(claimed)})`,
    );
    if (owed <= 0n) return;
    await send(ctx, distributor, distributorAbi, "claim", [
      epoch,
      account,
      BigInt(proof.cumulative),
      proof.proof,
    ]);
    const balance = (await ctx.client.readContract({
      address: token,
      abi: devTokenAbi,
      functionName: "balanceOf",
      args: [account],
    })) as bigint;
    console.log(`claimed ${formatEther(owed)}; balance ${formatEther(balance)}`);
    return;
  }
  console.log("nothing claimable yet (no settled epoch past its dispute window names this account)");
}
