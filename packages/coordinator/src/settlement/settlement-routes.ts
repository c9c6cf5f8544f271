import { AddressSchema, parseWith, SrpError } from "@streamrp2p/protocol";
import { type Router, sendJson } from "@streamrp2p/service";
import type { SettlementConfig, Settler } from "./settler.ts";

/** Where the contracts are, and each payee's Merkle proof per settled epoch. */
export function addSettlementRoutes(
  router: Router,
  settler: Settler | undefined,
  config: SettlementConfig | undefined,
): void {
  router.on("GET", "/v1/settlement", (_req, res) => {
    if (!config) throw new SrpError("UNAVAILABLE", "this coordinator does not settle on a chain");
    sendJson(res, 200, { rpcUrl: config.rpcUrl, chainId: config.chainId, contracts: config.deployment });
  });
  router.on("GET", "/v1/epochs/:n/settlement", async (_req, res, p) => {
    if (!settler) throw new SrpError("UNAVAILABLE", "this coordinator does not settle on a chain");
    sendJson(res, 200, await settler.settlement(Number(p.n)));
  });
  router.on("GET", "/v1/epochs/:n/proofs/:address", async (_req, res, p) => {
    if (!settler) throw new SrpError("UNAVAILABLE", "this coordinator does not settle on a chain");
    const n = Number(p.n);
    if (!Number.isSafeInteger(n) || n < 0)
      throw new SrpError("BAD_REQUEST", "epoch must be a non-negative integer");
    const account = parseWith(AddressSchema, p.address, "address");
    sendJson(res, 200, await settler.proof(n, account));
  });
}
