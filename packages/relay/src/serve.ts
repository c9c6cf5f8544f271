import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import {
  CONTENT_TYPE_INIT,
  CONTENT_TYPE_PLAYLIST,
  CONTENT_TYPE_SEGMENT,
  encodeAttestationHeader,
  HEADER_ATTESTATION,
  HEADER_INIT_VERSION,
  HEADER_NODE_SIG,
  parseMediaFileName,
  SOURCE_RUNG,
  SrpError,
} from "@streamrp2p/protocol";
import { sendError, sendJson } from "@streamrp2p/service";
import type { Served } from "./delivery-signer.ts";
import type { LiveStream } from "./live-stream.ts";
import type { MediaObject } from "./media-object.ts";
import type { PartObject } from "./part-window.ts";
import { hungUp, LIVE_PLAYLIST, servePart, servePlaylist } from "./serve-ll.ts";
import { streamBody } from "./stream-body.ts";

const SESSION_RE = /^[0-9a-f]{32}$/;

/** The viewer session a request is for (`?session=`), when well-formed. */
function sessionOf(url: URL): string | undefined {
  const s = url.searchParams.get("session");
  return s !== null && SESSION_RE.test(s) ? s : undefined;
}

/**
 * What serving counts: a relay's own metrics, or (in a worker process) a
 * tally its primary adds to its metrics.
 */
export interface ServeMetrics {
  requests: { inc(labels: { kind: string; status: string }, value?: number): void };
  bytesServed: { inc(labels: { kind: string }, value?: number): void };
  totals: { bytesServed: number };
}

export interface ServeContext {
  /** The node's delivery signature for an object (DeliverySigner; a worker's comes from its primary). */
  signer: {
    served(obj: MediaObject): Promise<Served>;
    /** What is served for an LL-HLS part (undefined: its own bytes); absent where parts are not served. */
    servedPart?(part: PartObject): Promise<Buffer | undefined>;
  };
  /** Bytes per viewer session (SessionLedger; a worker's tally goes to its primary's). */
  ledger: { add(sessionId: string, streamId: string, bytes: number, segments: number): void };
  stream(streamId: string): LiveStream | undefined;
  metrics: ServeMetrics;
  segmentWaitMs: number;
  windowWaitMs: number;
  /** True once the relay drains: new requests go elsewhere, in-flight ones finish. */
  draining(): boolean;
}

const IMMUTABLE = "public, max-age=31536000, immutable";
const headerCache = new WeakMap<MediaObject, OutgoingHttpHeaders>();

function objectHeaders(obj: MediaObject, isInit: boolean): OutgoingHttpHeaders {
  let h = headerCache.get(obj);
  if (!h) {
    h = {
      "content-type": isInit ? CONTENT_TYPE_INIT : CONTENT_TYPE_SEGMENT,
      "content-length": String(obj.byteLength),
      "cache-control": IMMUTABLE,
      "access-control-allow-origin": "*",
      "access-control-expose-headers": `${HEADER_ATTESTATION}, ${HEADER_INIT_VERSION}, ${HEADER_NODE_SIG}`,
      [HEADER_ATTESTATION]: encodeAttestationHeader(obj.attestation),
      ...(isInit ? {} : { [HEADER_INIT_VERSION]: String(obj.init) }),
    };
    headerCache.set(obj, h);
  }
  return h;
}

/**
 * Sends a cached object. Complete: one write. In flight: headers with the
 * attested length now, bytes as they arrive, and a cut connection (never a
 * short 200) if the object fails.
 */
export async function sendObject(
  ctx: ServeContext,
  req: IncomingMessage,
  res: ServerResponse,
  obj: MediaObject,
  isInit: boolean,
  session: string | undefined,
): Promise<void> {
  const { metrics } = ctx;
  const kind = isInit ? "init" : "segment";
  const served = await ctx.signer.served(obj);
  metrics.requests.inc({ kind, status: "200" });
  res.writeHead(200, { ...objectHeaders(obj, isInit), [HEADER_NODE_SIG]: served.nodeSignature });
  if (req.method === "HEAD") {
    res.end();
    return;
  }
  metrics.bytesServed.inc({ kind }, obj.byteLength);
  metrics.totals.bytesServed += obj.byteLength;
  if (session !== undefined)
    ctx.ledger.add(session, obj.attestation.streamId, obj.byteLength, isInit ? 0 : 1);
  streamBody(res, obj, served.bytes ?? obj.bytes);
}

/**
 * `parts=S.P` on window.json: the downstream takes LL-HLS parts and holds
 * them up to part P of segment S (`-1.-1`: none yet). undefined when absent
 * (a relay that takes no parts), null when malformed.
 */
function partsParam(url: URL): { seq: number; part: number } | undefined | null {
  const raw = url.searchParams.get("parts");
  if (raw === null) return undefined;
  const m = /^(-1|\d{1,15})\.(-1|\d{1,2})$/.exec(raw);
  if (!m) return null;
  return { seq: Number(m[1]), part: Number(m[2]) };
}

function drainingError(): SrpError {
  return new SrpError("DRAINING", "this node is leaving the network; use another node");
}

function fail(res: ServerResponse, metrics: ServeMetrics, kind: string, err: SrpError): void {
  metrics.requests.inc({ kind, status: String(err.status) });
  sendError(res, err);
}

/** GET /live/:stream/master.m3u8: every rung held, for hls.js to switch between by bandwidth. */
function serveMaster(ctx: ServeContext, req: IncomingMessage, res: ServerResponse, stream: LiveStream): void {
  const body = stream.masterPlaylist();
  if (body === undefined) {
    fail(
      res,
      ctx.metrics,
      "master",
      new SrpError("SEGMENT_NOT_FOUND", `stream ${stream.streamId} has no segments yet`),
    );
    return;
  }
  ctx.metrics.requests.inc({ kind: "master", status: "200" });
  res.writeHead(200, {
    "content-type": CONTENT_TYPE_PLAYLIST,
    "content-length": Buffer.byteLength(body),
    "cache-control": LIVE_PLAYLIST,
    "access-control-allow-origin": "*",
  });
  res.end(req.method === "HEAD" ? undefined : body);
}

/** GET/HEAD /live/:stream/:file, or /live/:stream/:rung/:file for a transcoded rung. */
export async function serveMedia(
  ctx: ServeContext,
  req: IncomingMessage,
  res: ServerResponse,
  streamId: string,
  file: string,
  url: URL,
  rung: string = SOURCE_RUNG,
): Promise<void> {
  const parsed = parseMediaFileName(file);
  if (ctx.draining()) return fail(res, ctx.metrics, parsed?.kind ?? "other", drainingError());
  if (!parsed || (parsed.kind === "master" && rung !== SOURCE_RUNG))
    return fail(res, ctx.metrics, "other", new SrpError("NOT_FOUND", `no such file ${file}`));
  const source = ctx.stream(streamId);
  const stream = rung === SOURCE_RUNG ? source : source?.rendition(rung);
  if (!stream)
    return fail(
      res,
      ctx.metrics,
      parsed.kind,
      new SrpError("STREAM_NOT_FOUND", `stream ${streamId} (${rung}) is not on this relay`),
    );
  switch (parsed.kind) {
    case "master":
      return serveMaster(ctx, req, res, stream);
    case "playlist":
      try {
        return await servePlaylist(ctx, req, res, stream, url);
      } catch (err) {
        if (err instanceof SrpError) return fail(res, ctx.metrics, "playlist", err);
        throw err;
      }
    case "part":
      try {
        return await servePart(ctx, req, res, stream, parsed.seq, parsed.part, sessionOf(url));
      } catch (err) {
        if (err instanceof SrpError) return fail(res, ctx.metrics, "part", err);
        throw err;
      }
    case "window": {
      const after = Number(url.searchParams.get("after") ?? "-1");
      if (!Number.isInteger(after) || after < -1)
        return fail(
          res,
          ctx.metrics,
          "window",
          new SrpError("BAD_REQUEST", "after must be an integer >= -1"),
        );
      const parts = partsParam(url);
      if (parts === null)
        return fail(res, ctx.metrics, "window", new SrpError("BAD_REQUEST", "parts must be SEQ.PART"));
      if (url.searchParams.get("wait") === "1")
        await stream.waitUntil(() => stream.hasNewerThan(after, parts), ctx.windowWaitMs, hungUp(res));
      // Woken by a drain: the child relay re-parents now rather than after its next poll.
      if (ctx.draining()) return fail(res, ctx.metrics, "window", drainingError());
      ctx.metrics.requests.inc({ kind: "window", status: "200" });
      sendJson(res, 200, stream.window(after, parts), { "access-control-allow-origin": "*" });
      return;
    }
    case "init": {
      const obj = stream.getInit(parsed.version);
      if (!obj)
        return fail(
          res,
          ctx.metrics,
          "init",
          new SrpError("SEGMENT_NOT_FOUND", `init ${parsed.version} not found`),
        );
      return sendObject(ctx, req, res, obj, true, sessionOf(url));
    }
    case "segment": {
      let obj = stream.getSegment(parsed.seq);
      const edge = stream.liveEdgeSeq;
      // A player a little ahead of this relay waits for the segment instead of failing.
      if (!obj && !stream.end && edge >= 0 && parsed.seq > edge && parsed.seq <= edge + 2) {
        await stream.waitFor(parsed.seq, ctx.segmentWaitMs, hungUp(res));
        if (ctx.draining()) return fail(res, ctx.metrics, "segment", drainingError());
        obj = stream.getSegment(parsed.seq);
      }
      if (!obj)
        return fail(
          res,
          ctx.metrics,
          "segment",
          new SrpError("SEGMENT_NOT_FOUND", `segment ${parsed.seq} not found`),
        );
      return sendObject(ctx, req, res, obj, false, sessionOf(url));
    }
  }
}
