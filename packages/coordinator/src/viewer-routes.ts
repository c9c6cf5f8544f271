import {
  type Ed25519KeyPair,
  EvidenceSchema,
  parseWith,
  SessionRequestSchema,
  SrpError,
} from "@streamrp2p/protocol";
import { type Logger, type Router, readJson, sendJson } from "@streamrp2p/service";
import { recordEvidence } from "./accounting/evidence.ts";
import { issueSession, type SessionIssuer, subnetOf } from "./accounting/sessions.ts";
import type { RateLimiter } from "./rate-limiter.ts";
import type { RankedNode } from "./routing.ts";
import type { CoordinatorStore, StreamRow } from "./store.ts";

export interface ViewerRoutesContext {
  store: CoordinatorStore;
  log: Logger;
  now: () => number;
  maxBodyBytes: number;
  ticketKey: () => Ed25519KeyPair;
  limiter: RateLimiter;
  subnetLimiter: RateLimiter;
  issuer: SessionIssuer;
  requireStream(id: string | undefined): Promise<StreamRow>;
  rank(stream: StreamRow, region: string | undefined): Promise<RankedNode[]>;
  onEvidence(proven: boolean): void;
}

/** Viewer-facing API: session tickets (rate-limited) and tamper evidence. */
export function addViewerRoutes(router: Router, ctx: ViewerRoutesContext): void {
  router.on("GET", "/v1/info", (_req, res) =>
    sendJson(res, 200, { ticketPublicKey: ctx.ticketKey().publicKey }),
  );

  router.on("POST", "/v1/streams/:id/sessions", async (req, res, p) => {
    const stream = await ctx.requireStream(p.id);
    const body = parseWith(SessionRequestSchema, await readJson(req, ctx.maxBodyBytes), "session request");
    const client = req.socket.remoteAddress ?? "unknown";
    // Two buckets: one per address, a wider one per /24 (or /48), so a subnet of fake viewers runs dry too.
    if (
      !ctx.limiter.take(`${client}|${stream.streamId}`) ||
      !ctx.subnetLimiter.take(`${subnetOf(client)}|${stream.streamId}`)
    ) {
      throw new SrpError(
        "RATE_LIMITED",
        `too many sessions for ${stream.streamId} from this address; try again later`,
      );
    }
    const ticket = await issueSession(ctx.issuer, stream.streamId, body.viewerKey, client, false);
    const ranked = await ctx.rank(stream, body.region);
    sendJson(res, 201, {
      ticket,
      nodes: ranked.map((r) => ({
        nodeId: r.node.nodeId,
        url: r.node.url,
        region: r.node.region,
        score: r.score,
      })),
    });
  });

  router.on("POST", "/v1/evidence", async (req, res) => {
    const e = parseWith(EvidenceSchema, await readJson(req, ctx.maxBodyBytes), "evidence");
    const stream = await ctx.requireStream(e.streamId);
    const { proven } = await recordEvidence(ctx.store, stream, e, ctx.now());
    ctx.onEvidence(proven);
    ctx.log.warn("tamper evidence", {
      nodeId: e.nodeId,
      streamId: e.streamId,
      seq: e.attestation.seq,
      proven,
    });
    sendJson(res, 201, { ok: true, proven });
  });

  router.on("GET", "/v1/nodes/:id/evidence", async (_req, res, p) => {
    const rows = await ctx.store.listEvidence((p.id ?? "").toLowerCase());
    sendJson(res, 200, {
      evidence: rows.map((r) => ({ ...r, attestation: JSON.parse(r.attestation) as unknown })),
    });
  });
}
