import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { chainAt, computePayout, distributorAbi, type NodeSplit, wallet } from "@streamrp2p/chain";
import type { DevEconomy, LocalNetwork } from "@streamrp2p/cli";
import { devTokenAbi, nodeRegistryAbi } from "@streamrp2p/contracts";
import { NodeStatusSchema } from "@streamrp2p/protocol";
import type { Relay } from "@streamrp2p/relay";
import type { Address, Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LiveTestNetwork, startLiveTestNetwork } from "../support/live-network.ts";
import { SimulatedViewer } from "../support/sim-viewer.ts";
import { waitUntil } from "../support/tools.ts";

const EPOCH_MS = 4_000;
const BACKER_BPS = 2_500;

describe("settlement end to end: viewers watch, roots go on-chain, operator and backer claim", () => {
  let live: LiveTestNetwork;
  let net: LocalNetwork;
  let economy: DevEconomy;
  const startedAt = Date.now();

  beforeAll(async () => {
    live = await startLiveTestNetwork("settle", {
      epochMs: EPOCH_MS,
      probeIntervalMs: 1_000,
      receiptSubmitIntervalMs: 1_000,
      chain: { disputeWindowSeconds: 1, poolFunding: 1_000, epochBudget: 10 },
    });
    net = live.net;
    if (!net.economy) throw new Error("no chain");
    economy = net.economy;
  }, 90_000);
  afterAll(() => live?.stop());

  /** The CLI as a separate process (asynchronously: the coordinator it talks to lives in this process). */
  const cli = async (role: "operator" | "supporter", args: string[]) =>
    (
      await promisify(execFile)(
        process.execPath,
        ["packages/cli/bin/streamrp2p.js", ...args, "--coordinator", net.coordinator.url],
        {
          encoding: "utf8",
          env: { ...process.env, SRP_PRIVATE_KEY: economy.keyOf(role) },
        },
      )
    ).stdout;

  const addressOf = (role: "operator" | "supporter") =>
    wallet(
      chainAt(economy.chain.rpcUrl, economy.chain.chainId),
      economy.keyOf(role),
    ).account.address.toLowerCase() as Address;

  const balanceOf = async (a: Address) =>
    (await economy.client.readContract({
      address: economy.deployment.token,
      abi: devTokenAbi,
      functionName: "balanceOf",
      args: [a],
    })) as bigint;

  async function settledEpochs(): Promise<number[] | undefined> {
    const { distributor } = economy.deployment;
    const latest = (await economy.client.readContract({
      address: distributor,
      abi: distributorAbi,
      functionName: "latestEpoch",
    })) as bigint;
    const settled: number[] = [];
    for (let n = Number(latest); n > 0 && n > Number(latest) - 8; n--) {
      const r = (await economy.client.readContract({
        address: distributor,
        abi: distributorAbi,
        functionName: "roots",
        args: [BigInt(n)],
      })) as readonly [Hex, bigint, boolean, bigint, bigint];
      if (r[1] !== 0n) settled.push(n);
    }
    return settled.length >= 2 ? settled.sort() : undefined;
  }

  /** Independently recomputes what every settled epoch owed `who`, from the published epoch results and draws. */
  async function owed(who: Address, last: number, splits: (nodeId: string) => NodeSplit): Promise<bigint> {
    let total = 0n;
    for (let n = Math.floor(startedAt / EPOCH_MS); n <= last; n++) {
      const settled = await fetch(`${net.coordinator.url}/v1/epochs/${n}/settlement`);
      if (settled.status !== 200) continue;
      const { draws } = (await settled.json()) as { draws: Record<string, string> };
      const body = (await (await fetch(`${net.coordinator.url}/v1/epochs/${n}`)).json()) as {
        credits: Array<{ nodeId: string; streamId: string; weight: number }>;
      };
      const drawable = new Map(Object.entries(draws).map(([s, v]) => [s, BigInt(v)]));
      const map = new Map(body.credits.map((c) => [c.nodeId, splits(c.nodeId)]));
      total +=
        computePayout(
          body.credits.filter((c) => c.weight > 0),
          drawable,
          map,
        ).amounts.get(who) ?? 0n;
    }
    return total;
  }

  it("pays operator and backer exactly their computed shares, once", async () => {
    const puller = net.relays[2] as Relay;
    const operator = addressOf("operator");
    const supporter = addressOf("supporter");
    // A supporter backs the pulling relay for 25 % of its rewards (operator-signed, through the CLI).
    const shown = await cli("operator", [
      "node",
      "backers",
      puller.nodeId,
      "--set",
      `${supporter}:${BACKER_BPS}`,
    ]);
    expect(shown.toLowerCase()).toContain(`backer ${supporter}: 25 %`);
    expect(shown).toMatch(/keeps 75 %/);

    const viewers = [
      await SimulatedViewer.start(net.coordinator.url, net.streamId, puller.nodeId),
      await SimulatedViewer.start(net.coordinator.url, net.streamId, puller.nodeId),
    ];
    await waitUntil("two epoch roots on-chain", settledEpochs, 40_000);
    for (const v of viewers) await v.stop();
    // The viewers' last receipts are credited in the epochs after they stop; then nothing changes.
    await new Promise((r) => setTimeout(r, 3 * EPOCH_MS + 2_000));
    const last = ((await settledEpochs()) ?? []).at(-1) as number;

    const splits = (nodeId: string): NodeSplit =>
      nodeId === puller.nodeId
        ? { operator, backers: [{ account: supporter, bps: BACKER_BPS }] }
        : { operator, backers: [] };
    // The operator's view: who is paid what for this node, before anyone claims.
    const status = async () =>
      NodeStatusSchema.parse(JSON.parse(await cli("operator", ["node", "status", puller.nodeId, "--json"])));
    const before = await status();
    expect(before.receipts.sessions).toBe(2);
    expect(before.credited.bytes).toBeGreaterThan(0);
    expect(before.reputation.explain.length).toBeGreaterThan(0);
    expect(before.rewards?.payees.map((p) => [p.role, p.account, p.bps])).toEqual([
      ["operator", operator, 10_000 - BACKER_BPS],
      ["backer", supporter, BACKER_BPS],
    ]);
    for (const p of before.rewards?.payees ?? []) {
      expect(BigInt(p.earned)).toBe(await owed(p.account as Address, last, splits));
      expect(BigInt(p.claimable) + BigInt(p.pending)).toBe(BigInt(p.earned));
      expect(p.claimed).toBe("0");
    }
    const text = await cli("operator", ["node", "status", puller.nodeId]);
    expect(text).toMatch(/reputation \d+ %/);
    expect(text).toMatch(/backer +0x[0-9a-f]{40} +25\.00 %/);

    for (const [role, who] of [
      ["operator", operator],
      ["supporter", supporter],
    ] as const) {
      const proof = (await (
        await fetch(`${net.coordinator.url}/v1/epochs/${last}/proofs/${who}`)
      ).json()) as { cumulative: string };
      const expected = await owed(who, last, splits);
      expect(expected).toBeGreaterThan(0n);
      expect(BigInt(proof.cumulative), role).toBe(expected);

      await new Promise((r) => setTimeout(r, 1_200)); // the 1 s dispute window
      await economy.client.request({ method: "evm_mine" as never, params: [] as never });
      const before = await balanceOf(who);
      const out = await cli(role, ["claim"]);
      expect(out).toMatch(/claimed [0-9.]+; balance/);
      expect(out).not.toContain(economy.keyOf(role).slice(2)); // keys are never printed
      expect((await balanceOf(who)) - before, role).toBe(expected);
      expect(await cli(role, ["claim"])).toMatch(/claimable as of epoch \d+: 0 /); // nothing twice
    }
    for (const p of (await status()).rewards?.payees ?? []) {
      expect(p.claimed, p.role).toBe(p.earned);
      expect(p.claimable).toBe("0");
    }
    expect(await cli("supporter", ["pool", "show", net.streamId])).toMatch(
      /balance [0-9.]+, epoch budget 10/,
    );
  }, 120_000);

  it("CLI: a node is registered only by the operator its key consented to", async () => {
    const dir = mkdtempSync(join(tmpdir(), "srp-node-"));
    const keyFile = join(dir, "node.key");
    const key = generatePrivateKey();
    writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
    const node = privateKeyToAccount(key).address;
    const operator = addressOf("operator");
    // The node's owner hands its consent for the operator (printed as flags) …
    const consent = (
      await promisify(execFile)(
        process.execPath,
        [
          "packages/cli/bin/streamrp2p.js",
          "node",
          "consent",
          operator,
          "--key-file",
          keyFile,
          "--coordinator",
          net.coordinator.url,
        ],
        { encoding: "utf8" },
      )
    ).stdout.trim();
    expect(consent).toMatch(/^--consent 0x[0-9a-f]{130} --deadline \d+$/);
    const flags = consent.split(" ");
    // … which is worthless to anyone else: the supporter cannot become this node's operator with it.
    await expect(cli("supporter", ["node", "register", node, "--stake", "1", ...flags])).rejects.toThrow(
      /NoNodeConsent/,
    );
    const operatorOf = () =>
      economy.client.readContract({
        address: economy.deployment.registry,
        abi: nodeRegistryAbi,
        functionName: "operatorOf",
        args: [node],
      });
    expect(await operatorOf()).toMatch(/^0x0{40}$/);
    await cli("operator", ["node", "register", node, "--stake", "1", ...flags]);
    expect(String(await operatorOf()).toLowerCase()).toBe(operator);
    // With the node key file at hand, the operator needs no separate consent step.
    const second = join(dir, "second.key");
    writeFileSync(second, `${generatePrivateKey()}\n`, { mode: 0o600 });
    expect(await cli("operator", ["node", "register", "--stake", "1", "--node-key-file", second])).toMatch(
      /register: tx 0x[0-9a-f]{64}/,
    );
  }, 60_000);

  it("CLI: a pool is created only with its signing key's consent, for the streamer it names", async () => {
    const dir = mkdtempSync(join(tmpdir(), "srp-pool-"));
    const signingFile = join(dir, "signing.key");
    writeFileSync(signingFile, `${generatePrivateKey()}\n`, { mode: 0o600 });
    const run = async (args: string[]) =>
      (
        await promisify(execFile)(
          process.execPath,
          ["packages/cli/bin/streamrp2p.js", ...args, "--coordinator", net.coordinator.url],
          { encoding: "utf8" },
        )
      ).stdout.trim();
    // The signing key consents for the operator (as a streamer) only.
    const consent = await run([
      "pool",
      "consent",
      "cli-pool",
      "--streamer",
      addressOf("operator"),
      "--key-file",
      signingFile,
    ]);
    expect(consent).toMatch(/^--signer 0x[0-9a-fA-F]{40} --consent 0x[0-9a-f]{130} --deadline \d+$/);
    const flags = consent.split(" ");
    await expect(cli("supporter", ["pool", "create", "cli-pool", "--budget", "1", ...flags])).rejects.toThrow(
      /NoSignerConsent/,
    );
    await expect(
      cli("supporter", ["pool", "show", "cli-pool", flags[0] as string, flags[1] as string]),
    ).rejects.toThrow(/no pool for cli-pool/);
    expect(await cli("operator", ["pool", "create", "cli-pool", "--budget", "1", ...flags])).toMatch(
      /pool cli-pool: id 0x/,
    );
    expect(
      await cli("supporter", ["pool", "show", "cli-pool", flags[0] as string, flags[1] as string]),
    ).toMatch(/streamer 0x[0-9a-fA-F]{40}, signer 0x[0-9a-fA-F]{40}, balance 0, epoch budget 1\n/);
  }, 60_000);
});
