import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { SrpError } from "@streamrp2p/protocol";
import type { NodeRow } from "./store.ts";

/** A node by its (lowercase) id: the replica's in-memory view, falling back to the database. */
export type NodeLookup = (nodeId: string) => Promise<NodeRow | undefined>;

/** Tokens are stored hashed: a leaked database does not let anyone speak for a node. */
export const hashToken = (token: string) => createHash("sha256").update(token).digest("hex");

/** The registered node `nodeId`, when the request carries its bearer token; UNAUTHORIZED otherwise. */
export async function authenticateNode(
  lookup: NodeLookup,
  req: IncomingMessage,
  nodeId: string,
): Promise<NodeRow> {
  const h = req.headers.authorization ?? "";
  if (!h.startsWith("Bearer ")) throw new SrpError("UNAUTHORIZED", "missing bearer token");
  const node = await lookup(nodeId.toLowerCase());
  if (!node) throw new SrpError("NODE_NOT_FOUND", `node ${nodeId} is not registered`);
  const given = Buffer.from(hashToken(h.slice("Bearer ".length)));
  if (!timingSafeEqual(given, Buffer.from(node.tokenHash)))
    throw new SrpError("UNAUTHORIZED", "bad node token");
  return node;
}
