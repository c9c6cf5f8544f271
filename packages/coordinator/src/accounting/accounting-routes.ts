import { parseWith, ReceiptBatchSchema, SrpError } from "@streamrp2p/protocol";
import { type Router, readJson, sendJson } from "@streamrp2p/service";
import { authenticateNode, type NodeLookup } from "../node-auth.ts";
import type { CoordinatorStore } from "../store.ts";
import type { AccountingService } from "./accounting-service.ts";

const MAX_BATCH_BYTES = 8 * 1024 * 1024; // a 5,000-receipt batch is ~4 MB of JSON

/** Receipt batches from relays, epoch results, and node scores with their explanation. */
export function addAccountingRoutes(
  router: Router,
  store: CoordinatorStore,
  accounting: AccountingService,
  ticketPublicKey: () => string,
  lookup: NodeLookup,
): void {
  router.on("POST", "/v1/nodes/:id/receipts", async (req, res, p) => {
    const node = await authenticateNode(lookup, req, p.id ?? "");
    const batch = parseWith(ReceiptBatchSchema, await readJson(req, MAX_BATCH_BYTES), "receipt batch");
    const results = await accounting.intake(node.nodeId, batch, ticketPublicKey());
    sendJson(res, 200, { results });
  });

  router.on("GET", "/v1/epochs/:n", async (_req, res, p) => {
    const n = Number(p.n);
    if (!Number.isSafeInteger(n) || n < 0)
      throw new SrpError("BAD_REQUEST", "epoch must be a non-negative integer");
    const found = await store.accounting.getEpoch(n);
    if (!found) throw new SrpError("NOT_FOUND", `epoch ${n} is not closed (yet)`);
    sendJson(res, 200, {
      ...found.epoch,
      inputs: JSON.parse(found.epoch.inputs) as unknown,
      credits: found.credits,
    });
  });

  router.on("GET", "/v1/epochs", async (_req, res) => {
    const last = await store.accounting.lastEpoch();
    sendJson(res, 200, { lastClosed: last?.epoch ?? null });
  });

  router.on("GET", "/v1/nodes/:id/score", async (_req, res, p) => {
    const nodeId = (p.id ?? "").toLowerCase();
    if (!(await lookup(nodeId))) throw new SrpError("NODE_NOT_FOUND", `node ${nodeId} is not registered`);
    sendJson(res, 200, await accounting.score(nodeId));
  });
}
