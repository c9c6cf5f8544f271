import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import {
  chainAt,
  type DevChain,
  deployContracts,
  distributorAbi,
  poolIdOf,
  publicClient,
  startDevChain,
  wallet,
} from "@streamrp2p/chain";
import { rewardPoolsAbi } from "@streamrp2p/contracts";
import { streamIdToBytes32 } from "@streamrp2p/protocol";
// @ts-expect-error solc ships no types
import solc from "solc";
import type { Abi, Address, Hex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * A hostile reward token: on every transfer out of the distributor it calls
 * back into `claim` with the same proof, trying to be paid twice.
 */
const HOSTILE = `
pragma solidity 0.8.28;
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
interface IDistributor { function claim(uint64, address, uint256, bytes32[] calldata) external returns (uint256); }
contract HostileToken is ERC20 {
    address public target; uint64 epoch; address account; uint256 cumulative; bytes32[] proof;
    bool public reentered; bool public reentrySucceeded;
    constructor() ERC20("Hostile", "HST") { _mint(msg.sender, 1e30); }
    function arm(address t, uint64 e, address a, uint256 c, bytes32[] calldata p) external { target = t; epoch = e; account = a; cumulative = c; proof = p; }
    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (from == target && target != address(0) && !reentered) {
            reentered = true;
            try IDistributor(target).claim(epoch, account, cumulative, proof) { reentrySucceeded = true; } catch {}
        }
    }
}`;

function compileHostile(): { abi: Abi; bytecode: Hex } {
  const require = createRequire(import.meta.url);
  const input = {
    language: "Solidity",
    sources: { "Hostile.sol": { content: HOSTILE } },
    settings: { evmVersion: "cancun", outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } } },
  };
  const out = JSON.parse(
    solc.compile(JSON.stringify(input), {
      import: (p: string) => ({ contents: readFileSync(require.resolve(p), "utf8") }),
    }),
  ) as {
    errors?: Array<{ severity: string; formattedMessage: string }>;
    contracts: Record<string, Record<string, { abi: Abi; evm: { bytecode: { object: string } } }>>;
  };
  const errors = (out.errors ?? []).filter((e) => e.severity === "error");
  if (errors.length > 0) throw new Error(errors.map((e) => e.formattedMessage).join("\n"));
  const c = out.contracts["Hostile.sol"]?.HostileToken;
  if (!c) throw new Error("no HostileToken");
  return { abi: c.abi, bytecode: `0x${c.evm.bytecode.object}` };
}

describe("reentrancy", () => {
  let chain: DevChain;
  beforeAll(async () => {
    chain = await startDevChain();
  }, 30_000);
  afterAll(() => chain?.stop());

  it("a token that re-enters claim during the payout is not paid twice", async () => {
    const c = chainAt(chain.rpcUrl, chain.chainId);
    const client = publicClient(c);
    const owner = wallet(c, chain.keys[0] as Hex);
    const settler = wallet(c, chain.keys[1] as Hex);
    const hostile = compileHostile();
    const tokenHash = await owner.deployContract({ abi: hostile.abi, bytecode: hostile.bytecode });
    const token = (await client.waitForTransactionReceipt({ hash: tokenHash })).contractAddress as Address;
    const d = await deployContracts(client, owner, {
      disputeWindowSeconds: 0n,
      unbondingPeriodSeconds: 1n,
      slashBps: 1,
      reporterBps: 1,
      settler: settler.account.address,
      epochMs: 1_000n,
      firstEpoch: 1n,
      token,
    });
    const send = async (w: typeof owner, address: Address, abi: Abi, functionName: string, args: unknown[]) =>
      client.waitForTransactionReceipt({
        hash: await w.writeContract({ address, abi, functionName, args } as never),
      });
    const stream = streamIdToBytes32("hostile");
    // The owner is the stream's signing key here: being the sender is its consent.
    await send(owner, d.pools, rewardPoolsAbi, "createPool", [
      stream,
      owner.account.address,
      1_000n,
      0n,
      "0x",
    ]);
    const pool = poolIdOf(stream, owner.account.address);
    await send(owner, token, hostile.abi, "approve", [d.pools, 1_000n]);
    await send(owner, d.pools, rewardPoolsAbi, "fund", [pool, 1_000n]);
    const payee = wallet(c, chain.keys[2] as Hex).account.address;
    const tree = StandardMerkleTree.of(
      [
        [payee, "100"],
        [owner.account.address, "1"],
      ],
      ["address", "uint256"],
    );
    await send(settler, d.distributor, distributorAbi, "postRoot", [1n, 0n, tree.root, [pool], [101n]]);
    const proof = tree.getProof([payee, "100"]);
    await send(owner, token, hostile.abi, "arm", [d.distributor, 1n, payee, 100n, proof]);
    const r = await send(owner, d.distributor, distributorAbi, "claim", [1n, payee, 100n, proof]);
    expect(r.status).toBe("success");
    const read = (fn: string, args: unknown[] = []) =>
      client.readContract({ address: token, abi: hostile.abi, functionName: fn, args } as never);
    expect(await read("reentered")).toBe(true);
    expect(await read("reentrySucceeded")).toBe(false);
    expect(await read("balanceOf", [payee])).toBe(100n);
  }, 60_000);
});
