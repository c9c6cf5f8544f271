import { randomBytes } from "node:crypto";
import {
  type Ed25519KeyPair,
  EvidenceSchema,
  parseWith,
  SessionRequestSchema,
  SrpError,
  signTicket,
  verifyDelivery,
  verifySegmentAttestation,
} from "@streamrp2p/protocol";
import { type Logger, type Router, readJson, sendJson } from "@streamrp2p/service";
import type { RateLimiter } from "./rate-limiter.ts";
import type { RankedNode } from "./routing.ts";
import type { CoordinatorStore, StreamRow } from "./store.ts";

export interface ViewerRoutesContext {
  store: CoordinatorStore;
  log: Logger;
  now: () => number;
  maxBodyBytes: number;
  ticketTtlMs: number;
  ticketKey: () => Ed25519KeyPair;
  limiter: RateLimiter;
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
    if (!ctx.limiter.take(`${client}|${stream.streamId}`)) {
      throw new SrpError(
        "RATE_LIMITED",
        `too many sessions for ${stream.streamId} from this address; try again later`,
      );
    }
    const now = ctx.now();
    const ticket = await signTicket(ctx.ticketKey().privateKey, {
      sessionId: randomBytes(16).toString("hex"),
      streamId: stream.streamId,
      viewerKey: body.viewerKey,
      issuedAt: now,
      expiresAt: now + ctx.ticketTtlMs,
    });
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
    const att = e.attestation;
    if (att.streamId !== e.streamId)
      throw new SrpError("VALIDATION_FAILED", "attestation is for another stream");
    // Only the origin's signature makes the attested hash the truth.
    await verifySegmentAttestation(att, stream.signer);
    if (e.servedSha256 === att.sha256)
      throw new SrpError("VALIDATION_FAILED", "served hash equals the attested one: nothing to report");
    let proven = false;
    if (e.nodeSignature) {
      await verifyDelivery(
        { streamId: att.streamId, rendition: att.rendition, seq: att.seq, sha256: e.servedSha256 },
        e.nodeSignature,
        e.nodeId,
      );
      proven = true;
    }
    await ctx.store.insertEvidence({
      nodeId: e.nodeId,
      streamId: e.streamId,
      rendition: att.rendition,
      seq: att.seq,
      attestedSha256: att.sha256,
      servedSha256: e.servedSha256,
      nodeSignature: e.nodeSignature,
      proven,
      attestation: JSON.stringify(att),
      reportedAt: ctx.now(),
    });
    ctx.onEvidence(proven);
    ctx.log.warn("tamper evidence", { nodeId: e.nodeId, streamId: e.streamId, seq: att.seq, proven });
    sendJson(res, 201, { ok: true, proven });
  });

  router.on("GET", "/v1/nodes/:id/evidence", async (_req, res, p) => {
    const rows = await ctx.store.listEvidence((p.id ?? "").toLowerCase());
    sendJson(res, 200, {
      evidence: rows.map((r) => ({ ...r, attestation: JSON.parse(r.attestation) as unknown })),
    });
  });
}
