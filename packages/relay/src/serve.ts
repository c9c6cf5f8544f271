import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import {
  bytesToBase64url,
  CONTENT_TYPE_INIT,
  CONTENT_TYPE_PLAYLIST,
  CONTENT_TYPE_SEGMENT,
  encodeAttestationHeader,
  HEADER_ATTESTATION,
  HEADER_INIT_VERSION,
  HEADER_NODE_SIG,
  HEADER_STREAM_END,
  parseMediaFileName,
  SrpError,
  utf8,
} from "@streamrp2p/protocol";
import { sendError, sendJson } from "@streamrp2p/service";
import type { Served } from "./delivery-signer.ts";
import type { LiveStream } from "./live-stream.ts";
import type { MediaObject } from "./media-object.ts";

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
  signer: { served(obj: MediaObject): Promise<Served> };
  /** Bytes per viewer session (SessionLedger; a worker's tally goes to its primary's). */
  ledger: { add(sessionId: string, streamId: string, bytes: number, segments: number): void };
  stream(streamId: string): LiveStream | undefined;
  metrics: ServeMetrics;
  segmentWaitMs: number;
  windowWaitMs: number;
  /** True once the relay drains: new requests go elsewhere, in-flight ones finish. */
  draining(): boolean;
}

/** A TLS record's plaintext at most: a body this small costs less to copy than a record of its own. */
const TLS_RECORD_BYTES = 16 * 1024;
const IMMUTABLE = "public, max-age=31536000, immutable";
/** Live playlists change every segment; a second of caching still collapses bursts at a CDN. */
const LIVE_PLAYLIST = "public, max-age=1";
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
  const bytes = served.bytes ?? obj.bytes;
  if (bytes) {
    // HTTP/1.1 over TLS: node copies a head and body written together into one new buffer before
    // encrypting (TLSWrap concatenates a multi-buffer write); sent apart, the body is not copied.
    if (bytes.length > TLS_RECORD_BYTES && req.httpVersionMajor === 1 && (req.socket as TLSSocket).encrypted)
      res.flushHeaders();
    res.end(bytes);
    return;
  }
  for (const chunk of obj.snapshot()) res.write(chunk);
  const unsubscribe = obj.subscribe({
    data: (chunk) => res.write(chunk),
    end: () => res.end(),
    fail: () => res.destroy(),
  });
  res.on("close", unsubscribe);
}

function drainingError(): SrpError {
  return new SrpError("DRAINING", "this node is leaving the network; use another node");
}

function fail(res: ServerResponse, metrics: ServeMetrics, kind: string, err: SrpError): void {
  metrics.requests.inc({ kind, status: String(err.status) });
  sendError(res, err);
}

/** GET/HEAD /live/:stream/:file */
export async function serveMedia(
  ctx: ServeContext,
  req: IncomingMessage,
  res: ServerResponse,
  streamId: string,
  file: string,
  url: URL,
): Promise<void> {
  const parsed = parseMediaFileName(file);
  if (ctx.draining()) return fail(res, ctx.metrics, parsed?.kind ?? "other", drainingError());
  if (!parsed) return fail(res, ctx.metrics, "other", new SrpError("NOT_FOUND", `no such file ${file}`));
  const stream = ctx.stream(streamId);
  if (!stream)
    return fail(
      res,
      ctx.metrics,
      parsed.kind,
      new SrpError("STREAM_NOT_FOUND", `stream ${streamId} is not on this relay`),
    );
  switch (parsed.kind) {
    case "playlist": {
      if (stream.liveEdgeSeq < 0)
        return fail(
          res,
          ctx.metrics,
          "playlist",
          new SrpError("SEGMENT_NOT_FOUND", `stream ${streamId} has no segments yet`),
        );
      const body = stream.playlist();
      ctx.metrics.requests.inc({ kind: "playlist", status: "200" });
      res.writeHead(200, {
        "content-type": CONTENT_TYPE_PLAYLIST,
        "content-length": Buffer.byteLength(body),
        "cache-control": LIVE_PLAYLIST,
        "access-control-allow-origin": "*",
        // An ENDLIST comes with the streamer's signed end, so players can tell it from a relay's lie.
        ...(stream.end
          ? {
              [HEADER_STREAM_END]: bytesToBase64url(utf8(JSON.stringify(stream.end))),
              "access-control-expose-headers": HEADER_STREAM_END,
            }
          : {}),
      });
      res.end(req.method === "HEAD" ? undefined : body);
      return;
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
      if (url.searchParams.get("wait") === "1") await stream.waitFor(after + 1, ctx.windowWaitMs);
      // Woken by a drain: the child relay re-parents now rather than after its next poll.
      if (ctx.draining()) return fail(res, ctx.metrics, "window", drainingError());
      ctx.metrics.requests.inc({ kind: "window", status: "200" });
      sendJson(res, 200, stream.window(after), { "access-control-allow-origin": "*" });
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
        await stream.waitFor(parsed.seq, ctx.segmentWaitMs);
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
