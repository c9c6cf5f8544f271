import type { IncomingMessage } from "node:http";
import {
  type Ed25519KeyPair,
  EvidenceReportSchema,
  parseWith,
  SessionRequestSchema,
  type SigningDomain,
  SrpError,
  verifyTicket,
} from "@streamrp2p/protocol";
import { type Logger, type Router, readJson, sendJson, verifyEd25519Native } from "@streamrp2p/service";
import { recordEvidence } from "./accounting/evidence.ts";
import { checkTicketMatchesSession } from "./accounting/receipt-intake.ts";
import { issueSession, type SessionIssuer } from "./accounting/sessions.ts";
import type { TicketLimits } from "./accounting/ticket-limits.ts";
import { subnetOf } from "./accounting/viewer-identity.ts";
import { RateLimiter } from "./rate-limiter.ts";
import { viewerAddress } from "./routing/geo.ts";
import type { ViewerCandidate } from "./routing/viewer-index.ts";
import type { CoordinatorStore, StreamRow } from "./store.ts";

/** Tamper reports one viewer session may file: a burst, then one per minute. */
const EVIDENCE_PER_SESSION_BURST = 5;
const EVIDENCE_PER_SESSION_PER_MS = 1 / 60_000;
/** …and one subnet (/24, IPv6 /64), whatever its sessions: a burst, then one every 6 s. */
const EVIDENCE_PER_SUBNET_BURST = 20;
const EVIDENCE_PER_SUBNET_PER_MS = 1 / 6_000;
/** Reports shown per node by GET /v1/nodes/:id/evidence (newest first). */
const EVIDENCE_LIST_LIMIT = 100;

/** What routing knows of a viewer: its request (address) and its `region` hint, if any. */
export interface ViewerPlace {
  req: IncomingMessage;
  hint: string | undefined;
}

export interface ViewerRoutesContext {
  store: CoordinatorStore;
  log: Logger;
  now: () => number;
  maxBodyBytes: number;
  ticketKey: () => Ed25519KeyPair;
  /** The deployment segment attestations and delivery signatures are bound to. */
  domain: SigningDomain;
  /** Tickets per viewer address, subnet and site, across streams. */
  ticketLimits: TicketLimits;
  issuer: SessionIssuer;
  requireStream(id: string | undefined): Promise<StreamRow>;
  /** Candidates for a viewer; `assign`: it takes a ticket for the first, so count it there. */
  rank(stream: StreamRow, viewer: ViewerPlace, assign: boolean): ViewerCandidate[];
  onEvidence(proven: boolean): void;
  /**
   * Peers whose X-Forwarded-For names the viewer (`trustedProxies`). Caps,
   * rate limits and sites key on the viewer's address, not the proxy's:
   * behind a proxy every viewer was one site.
   */
  trustedProxies: readonly string[];
}

/** Viewer-facing API: session tickets (rate-limited) and tamper evidence (ticket-bound, rate-limited). */
export function addViewerRoutes(router: Router, ctx: ViewerRoutesContext): void {
  const evidencePerSession = new RateLimiter(
    EVIDENCE_PER_SESSION_BURST,
    EVIDENCE_PER_SESSION_PER_MS,
    ctx.now,
  );
  const evidencePerSubnet = new RateLimiter(EVIDENCE_PER_SUBNET_BURST, EVIDENCE_PER_SUBNET_PER_MS, ctx.now);

  router.on("GET", "/v1/info", (_req, res) =>
    sendJson(res, 200, { ticketPublicKey: ctx.ticketKey().publicKey, domain: ctx.domain }),
  );

  router.on("POST", "/v1/streams/:id/sessions", async (req, res, p) => {
    const stream = await ctx.requireStream(p.id);
    const body = parseWith(SessionRequestSchema, await readJson(req, ctx.maxBodyBytes), "session request");
    const client = viewerAddress(req, ctx.trustedProxies) ?? "unknown";
    if (!ctx.ticketLimits.take(client)) {
      throw new SrpError(
        "RATE_LIMITED",
        "too many sessions from this address or its network; try again later",
      );
    }
    const ticket = await issueSession(ctx.issuer, stream.streamId, body.viewerKey, client, false);
    sendJson(res, 201, { ticket, nodes: ctx.rank(stream, { req, hint: body.region }, true) });
  });

  // Check order: body size and schema → the reporter's subnet budget (before any
  // signature work) → ticket signature and expiry → the ticket is the issued session,
  // of this stream → that session's budget (only a real ticket can spend it) → the
  // origin's attestation (in recordEvidence).
  router.on("POST", "/v1/evidence", async (req, res) => {
    const report = parseWith(EvidenceReportSchema, await readJson(req, ctx.maxBodyBytes), "evidence");
    const { ticket, ...e } = report;
    if (!evidencePerSubnet.take(subnetOf(viewerAddress(req, ctx.trustedProxies) ?? "unknown")))
      throw new SrpError("RATE_LIMITED", "too many tamper reports from this subnet");
    await verifyTicket(ticket, ctx.ticketKey().publicKey, ctx.now(), { verify: verifyEd25519Native });
    const [session] = await ctx.store.accounting.getSessions([ticket.sessionId]);
    checkTicketMatchesSession(ticket, session);
    if (ticket.streamId !== e.streamId)
      throw new SrpError("VALIDATION_FAILED", "the ticket is for another stream than the evidence");
    if (!evidencePerSession.take(ticket.sessionId))
      throw new SrpError("RATE_LIMITED", "too many tamper reports from this session");
    const stream = await ctx.requireStream(e.streamId);
    const { proven } = await recordEvidence(ctx.store, ctx.domain, stream, e, ctx.now());
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
    const rows = await ctx.store.listEvidence((p.id ?? "").toLowerCase(), EVIDENCE_LIST_LIMIT);
    sendJson(res, 200, {
      evidence: rows.map((r) => ({ ...r, attestation: JSON.parse(r.attestation) as unknown })),
    });
  });
}
