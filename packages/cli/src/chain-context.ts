import { existsSync, readFileSync } from "node:fs";
import { COORDINATOR_CLIENT_DEFAULTS, CoordinatorEndpoints, withFailover } from "@streamrp2p/api-client";
import { chainAt, type Deployment, publicClient, type Wallet, wallet } from "@streamrp2p/chain";
import { SrpError } from "@streamrp2p/protocol";
import type { Hex, LocalAccount, PublicClient } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { type Flags, stringFlag } from "./args.ts";
import { coordinatorUrlsFlag } from "./coordinator-flag.ts";

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
  /** GET `path` from the first coordinator replica that answers (any status but 502/503/504). */
  coordinatorGet(path: string): Promise<Response>;
}

/** Raw GETs with the same failover as CoordinatorClient (these callers read statuses themselves). */
function coordinatorGetter(urls: string[]): (path: string) => Promise<Response> {
  const endpoints = new CoordinatorEndpoints(urls);
  return (path) =>
    withFailover(endpoints, async (base) => {
      let res: Response;
      try {
        res = await fetch(`${base}${path}`, {
          signal: AbortSignal.timeout(COORDINATOR_CLIENT_DEFAULTS.timeoutMs),
          redirect: "manual",
        });
      } catch (cause) {
        throw new SrpError("UNAVAILABLE", `${base}: unreachable`, { cause });
      }
      if (res.status === 502 || res.status === 503 || res.status === 504) {
        await res.body?.cancel();
        throw new SrpError("UNAVAILABLE", `${base}: HTTP ${res.status}`, { details: { status: res.status } });
      }
      return res;
    });
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
  const urls = coordinatorUrlsFlag(flags, "http://127.0.0.1:7700");
  const coordinatorGet = coordinatorGetter(urls);
  const res = await coordinatorGet("/v1/settlement");
  const body = (await res.json()) as {
    rpcUrl: string;
    chainId: number;
    contracts: Deployment;
    error?: { message: string };
  };
  if (!res.ok) throw new Error(`coordinator ${res.url}: ${body.error?.message ?? res.status}`);
  const chain = chainAt(body.rpcUrl, body.chainId);
  // A read-only command gets a throwaway account: nothing is ever signed with it.
  const key = needsKey ? loadKey(flags) : (`0x${"11".repeat(32)}` as Hex);
  return {
    client: publicClient(chain),
    wallet: wallet(chain, key),
    account: privateKeyToAccount(key),
    contracts: body.contracts,
    coordinatorGet,
  };
}
