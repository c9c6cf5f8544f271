import { existsSync, readFileSync } from "node:fs";
import { chainAt, type Deployment, publicClient, type Wallet, wallet } from "@streamrp2p/chain";
import type { Hex, LocalAccount, PublicClient } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { type Flags, stringFlag } from "./args.ts";

export const CHAIN_FLAGS = {
  coordinator: { type: "string" },
  "key-file": { type: "string" },
} as const;

export interface ChainContext {
  client: PublicClient;
  wallet: Wallet;
  /** The same key as `wallet`, for signing typed data (consents). */
  account: LocalAccount;
  contracts: Deployment;
  coordinatorUrl: string;
}

/** The signing key: --key-file, else SRP_PRIVATE_KEY. Never printed. */
function loadKey(flags: Flags): Hex {
  const file = stringFlag(flags, "key-file", "");
  const raw = file
    ? existsSync(file)
      ? readFileSync(file, "utf8")
      : ""
    : (process.env.SRP_PRIVATE_KEY ?? "");
  const key = raw.trim();
  if (!/^0x[0-9a-fA-F]{64}$/.test(key)) {
    throw new Error(
      file ? `${file} does not hold a 0x-hex private key` : "give --key-file FILE or set SRP_PRIVATE_KEY",
    );
  }
  return key as Hex;
}

/** Chain, contracts and account for on-chain commands, learned from the coordinator (GET /v1/settlement). */
export async function chainContext(flags: Flags, needsKey = true): Promise<ChainContext> {
  const coordinatorUrl = stringFlag(flags, "coordinator", "http://127.0.0.1:7700").replace(/\/$/, "");
  const res = await fetch(`${coordinatorUrl}/v1/settlement`);
  const body = (await res.json()) as {
    rpcUrl: string;
    chainId: number;
    contracts: Deployment;
    error?: { message: string };
  };
  if (!res.ok) throw new Error(`coordinator ${coordinatorUrl}: ${body.error?.message ?? res.status}`);
  const chain = chainAt(body.rpcUrl, body.chainId);
  // A read-only command gets a throwaway account: nothing is ever signed with it.
  const key = needsKey ? loadKey(flags) : (`0x${"11".repeat(32)}` as Hex);
  return {
    client: publicClient(chain),
    wallet: wallet(chain, key),
    account: privateKeyToAccount(key),
    contracts: body.contracts,
    coordinatorUrl,
  };
}
