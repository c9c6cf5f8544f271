import { type ChildProcess, execFile } from "node:child_process";
import { promisify } from "node:util";
import { chainAt, computePayout, distributorAbi, wallet } from "@streamrp2p/chain";
import type { LocalNetwork } from "@streamrp2p/cli";
import { devTokenAbi } from "@streamrp2p/contracts";
import type { Relay } from "@streamrp2p/relay";
import type { Address, Hex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLiveTestNetwork } from "../support/live-network.ts";
import { SimulatedViewer } from "../support/sim-viewer.ts";
import { waitUntil } from "../support/tools.ts";

const EPOCH_MS = 4_000;

describe("settlement end to end: viewers watch, roots go on-chain, a node's operator claims", () => {
  let net: LocalNetwork;
  let source: ChildProcess;
  const startedAt = Date.now();

  beforeAll(async () => {
    ({ net, source } = await startLiveTestNetwork("settle", {
      epochMs: EPOCH_MS,
      probeIntervalMs: 1_000,
      receiptSubmitIntervalMs: 1_000,
      chain: { disputeWindowSeconds: 1, poolFunding: 1_000, epochBudget: 10 },
    }));
  }, 90_000);
  afterAll(async () => {
    source?.kill("SIGKILL");
    await net?.stop();
  });

  it("pays the operator exactly its computed reward", async () => {
    const economy = net.economy;
    if (!economy) throw new Error("no chain");
    const puller = net.relays[2] as Relay;
    const viewers = [
      await SimulatedViewer.start(net.coordinator.url, net.streamId, puller.nodeId),
      await SimulatedViewer.start(net.coordinator.url, net.streamId, puller.nodeId),
    ];
    const client = economy.client;
    const { distributor, token } = economy.deployment;
    // Two roots on-chain while viewers watch.
    const epochs = await waitUntil(
      "two epoch roots on-chain",
      async () => {
        const latest = (await client.readContract({
          address: distributor,
          abi: distributorAbi,
          functionName: "latestEpoch",
        })) as bigint;
        if (latest === 0n) return undefined;
        const settled: number[] = [];
        for (let n = Number(latest); n > Number(latest) - 6; n--) {
          const r = (await client.readContract({
            address: distributor,
            abi: distributorAbi,
            functionName: "roots",
            args: [BigInt(n)],
          })) as readonly [Hex, bigint, boolean, bigint];
          if (r[1] !== 0n) settled.push(n);
        }
        return settled.length >= 2 ? settled.sort() : undefined;
      },
      40_000,
    );
    for (const v of viewers) await v.stop();
    const last = epochs.at(-1) as number;

    // The operator of the nodes (dev role "operator") asks the coordinator for its proof.
    const c = chainAt(economy.chain.rpcUrl, economy.chain.chainId);
    const operator = wallet(c, economy.keyOf("operator"));
    const address = operator.account.address.toLowerCase() as Address;
    const proof = (await (
      await fetch(`${net.coordinator.url}/v1/epochs/${last}/proofs/${address}`)
    ).json()) as { cumulative: string; proof: Hex[]; root: Hex };
    expect(BigInt(proof.cumulative)).toBeGreaterThan(0n);

    // Recompute, independently, what every settled epoch owed the operator, from the published
    // epoch results and draws: the proof's cumulative amount must be exactly that sum.
    let expected = 0n;
    for (let n = Math.floor(startedAt / EPOCH_MS); n <= last; n++) {
      const settled = await fetch(`${net.coordinator.url}/v1/epochs/${n}/settlement`);
      if (settled.status !== 200) continue;
      const { draws } = (await settled.json()) as { draws: Record<string, string> };
      const body = (await (await fetch(`${net.coordinator.url}/v1/epochs/${n}`)).json()) as {
        credits: Array<{ nodeId: string; streamId: string; weight: number }>;
      };
      // All local nodes are registered by the operator, with no backers.
      const splits = new Map(body.credits.map((cr) => [cr.nodeId, { operator: address, backers: [] }]));
      const drawable = new Map(Object.entries(draws).map(([s, v]) => [s, BigInt(v)]));
      expected +=
        computePayout(
          body.credits.filter((cr) => cr.weight > 0),
          drawable,
          splits,
        ).amounts.get(address) ?? 0n;
    }
    expect(BigInt(proof.cumulative)).toBe(expected);

    // Claim after the dispute window.
    await new Promise((r) => setTimeout(r, 1_500));
    await client.request({ method: "evm_mine" as never, params: [] as never });
    const before = (await client.readContract({
      address: token,
      abi: devTokenAbi,
      functionName: "balanceOf",
      args: [address],
    })) as bigint;
    // The operator claims with the CLI, as a user would; the key comes from the environment, never printed.
    // (Asynchronously: the coordinator answering the CLI lives in this very process.)
    const cli = async (args: string[]) =>
      (
        await promisify(execFile)(
          process.execPath,
          ["packages/cli/bin/streamrp2p.js", ...args, "--coordinator", net.coordinator.url],
          {
            encoding: "utf8",
            env: { ...process.env, SRP_PRIVATE_KEY: economy.keyOf("operator") },
          },
        )
      ).stdout;
    const claimOut = await cli(["claim"]);
    expect(claimOut).toMatch(/claimed [0-9.]+; balance/);
    expect(claimOut).not.toContain(economy.keyOf("operator").slice(2));
    const after = (await client.readContract({
      address: token,
      abi: devTokenAbi,
      functionName: "balanceOf",
      args: [address],
    })) as bigint;
    expect(after - before).toBe(BigInt(proof.cumulative));
    expect(await cli(["claim"])).toMatch(/claimable as of epoch \d+: 0 /); // nothing twice
    expect(await cli(["pool", "show", net.streamId])).toMatch(/balance [0-9.]+, epoch budget 10/);
  }, 120_000);
});
