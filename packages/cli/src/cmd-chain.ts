import { distributorAbi } from "@streamrp2p/chain";
import { devTokenAbi, nodeRegistryAbi, rewardPoolsAbi } from "@streamrp2p/contracts";
import { streamIdToBytes32 } from "@streamrp2p/protocol";
import { type Abi, type Address, formatEther, type Hex, parseEther } from "viem";
import { parseFlags, stringFlag } from "./args.ts";
import { CHAIN_FLAGS, type ChainContext, chainContext } from "./chain-context.ts";
import { runNodeStatus } from "./cmd-node-status.ts";

export const chainHelp = `streamrp2p pool create STREAM --signer ADDRESS --budget TOKENS | pool fund STREAM TOKENS | pool show STREAM
streamrp2p node register NODE --stake TOKENS | node stake NODE TOKENS | node unbond NODE TOKENS | node withdraw NODE
streamrp2p node backers NODE [--set 0xBACKER:BPS,…]   (operator-signed: backers' shares of the node's rewards)
streamrp2p node status [NODE] [--coordinator URL] [--key-file .data/relay/node.key] [--json]
  (streams, viewers, bytes served, reputation with reasons, pending and claimable rewards per payee)
streamrp2p claim
  On-chain actions. Common flags: --coordinator URL (default http://127.0.0.1:7700; it names the chain and
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

export async function runPool(argv: string[]): Promise<void> {
  const [action, stream, ...more] = argv;
  const amount = more[0]?.startsWith("--") ? undefined : more[0];
  const rest = amount === undefined ? more : more.slice(1);
  const flags = parseFlags(rest, { ...CHAIN_FLAGS, signer: { type: "string" }, budget: { type: "string" } });
  const id = streamIdToBytes32(need(stream, "STREAM"));
  if (action === "show") {
    const ctx = await chainContext(flags, false);
    const [streamer, signer, balance, budget] = (await ctx.client.readContract({
      address: ctx.contracts.pools,
      abi: rewardPoolsAbi,
      functionName: "pools",
      args: [id],
    })) as readonly [Address, Address, bigint, bigint];
    if (/^0x0{40}$/.test(streamer)) throw new Error(`no pool for ${stream}`);
    console.log(
      `pool ${stream}: streamer ${streamer}, signer ${signer}, balance ${formatEther(balance)}, epoch budget ${formatEther(budget)}`,
    );
    return;
  }
  const ctx = await chainContext(flags);
  if (action === "create") {
    await send(ctx, ctx.contracts.pools, rewardPoolsAbi, "createPool", [
      id,
      need(stringFlag(flags, "signer", ""), "--signer"),
      parseEther(need(stringFlag(flags, "budget", ""), "--budget")),
    ]);
  } else if (action === "fund") {
    const value = parseEther(need(amount, "TOKENS"));
    await ensureAllowance(ctx, ctx.contracts.pools, value);
    await send(ctx, ctx.contracts.pools, rewardPoolsAbi, "fund", [id, value]);
  } else {
    throw new Error(chainHelp);
  }
}

export async function runNode(argv: string[]): Promise<void> {
  if (argv[0] === "status") return runNodeStatus(argv.slice(1));
  const [action, node, ...more] = argv;
  const amount = more[0]?.startsWith("--") ? undefined : more[0];
  const rest = amount === undefined ? more : more.slice(1);
  const flags = parseFlags(rest, { ...CHAIN_FLAGS, stake: { type: "string" }, set: { type: "string" } });
  const ctx = await chainContext(flags);
  const addr = need(node, "NODE") as Address;
  const { registry } = ctx.contracts;
  if (action === "register") {
    const value = parseEther(need(stringFlag(flags, "stake", ""), "--stake"));
    await ensureAllowance(ctx, registry, value);
    await send(ctx, registry, nodeRegistryAbi, "register", [addr, value]);
  } else if (action === "stake") {
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
    const res = await fetch(`${ctx.coordinatorUrl}/v1/epochs/${epoch}/proofs/${account}`);
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
