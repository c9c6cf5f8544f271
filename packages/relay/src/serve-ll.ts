import type { IncomingMessage, ServerResponse } from "node:http";
import {
  ADVANCE_PART_LIMIT,
  blockingReloadReady,
  blockingReloadState,
  blockingWaitMs,
  bytesToBase64url,
  CONTENT_TYPE_PLAYLIST,
  CONTENT_TYPE_SEGMENT,
  encodePartAttestationHeader,
  HEADER_PART_ATTESTATION,
  HEADER_STREAM_END,
  type PlaylistRequest,
  parsePlaylistRequest,
  SrpError,
  utf8,
} from "@streamrp2p/protocol";
import type { LiveStream } from "./live-stream.ts";
import type { PartObject } from "./part-window.ts";
import type { ServeContext } from "./serve.ts";
import { streamBody } from "./stream-body.ts";

/**
 * Low-Latency HLS delivery (draft-pantos-hls-rfc8216bis 6.2.5-6.2.6): the
 * playlist with blocking reload and delta updates, and parts, including a
 * preload-hinted part requested before it exists. Every blocked request
 * waits on the stream's one bounded set of waiters and is answered from
 * this relay's own window: a thousand viewers blocked on the next part cost
 * the upstream nothing more than the one copy this relay pulls anyway.
 */

/** Live playlists change every part; a second of caching still collapses bursts at a CDN. */
export const LIVE_PLAYLIST = "public, max-age=1";
const IMMUTABLE = "public, max-age=31536000, immutable";

/** How long a blocked request may wait (ms): BLOCK_TARGET_DURATIONS target durations (capped), then 503. */
function blockMs(stream: LiveStream): number {
  return blockingWaitMs(stream.targetDurationS());
}

/**
 * GET/HEAD index.m3u8, with `_HLS_msn`/`_HLS_part` (blocking reload) and
 * `_HLS_skip` (delta update). Throws BAD_REQUEST for malformed or too
 * advanced directives, RELOAD_TIMEOUT (503) when the asked segment or part
 * did not appear in time, SEGMENT_NOT_FOUND before any segment without a block.
 */
/** Aborts when the client goes away before its response is done: its blocked wait gives its place back. */
export function hungUp(res: ServerResponse): AbortSignal {
  const c = new AbortController();
  res.once("close", () => c.abort());
  return c.signal;
}

export async function servePlaylist(
  ctx: ServeContext,
  req: IncomingMessage,
  res: ServerResponse,
  stream: LiveStream,
  url: URL,
): Promise<void> {
  const request: PlaylistRequest = parsePlaylistRequest(url.searchParams);
  const lowLatency = request.lowLatency && stream.partTargetMs !== undefined;
  if (!blockingReloadReady(request.block, stream.liveEdge())) {
    const arrived = await stream.waitUntil(() => reloadReady(stream, request), blockMs(stream), hungUp(res));
    if (ctx.draining()) throw new SrpError("DRAINING", "this node is leaving the network; use another node");
    if (!arrived) {
      throw new SrpError(
        "RELOAD_TIMEOUT",
        `segment ${request.block?.msn} part ${request.block?.part ?? "-"} did not appear in time`,
      );
    }
  }
  if (stream.liveEdgeSeq < 0 && !lowLatency) {
    throw new SrpError("SEGMENT_NOT_FOUND", `stream ${stream.streamId} has no segments yet`);
  }
  const body = stream.playlist({ lowLatency, skip: request.skip });
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
}

/**
 * The blocking rule, re-checked on every change of the window for every
 * blocked request: no throw, and the edge is computed once per change. A
 * request too far ahead counts as not ready (it was checked on arrival).
 */
function reloadReady(stream: LiveStream, request: PlaylistRequest): boolean {
  return blockingReloadState(request.block, stream.liveEdge()) === "ready";
}

/**
 * Whether a part not held yet may be waited for: the next parts of the
 * segment in progress (the preload hint and up to ADVANCE_PART_LIMIT past
 * it), or the first ones of the segment after it.
 */
function awaitable(stream: LiveStream, seq: number, part: number): boolean {
  const edge = stream.liveEdge();
  if (edge.ended) return false;
  if (seq === edge.lastMsn + 1) return part < edge.partsOfNext + ADVANCE_PART_LIMIT;
  return seq === edge.lastMsn + 2 && part < ADVANCE_PART_LIMIT;
}

/**
 * GET/HEAD part-S.P.m4s. A held part is sent (cut-through while it still
 * arrives); a part about to exist (the preload hint) blocks until it does,
 * then streams; one that will not (its segment finished with fewer parts)
 * is 404, one that took longer than the block limit 503.
 */
export async function servePart(
  ctx: ServeContext,
  req: IncomingMessage,
  res: ServerResponse,
  stream: LiveStream,
  seq: number,
  index: number,
  session: string | undefined,
): Promise<void> {
  let part = stream.getPart(seq, index);
  if (!part && awaitable(stream, seq, index)) {
    const arrived = await stream.waitUntil(
      () => stream.getPart(seq, index) !== undefined || stream.liveEdgeSeq >= seq,
      blockMs(stream),
      hungUp(res),
    );
    if (ctx.draining()) throw new SrpError("DRAINING", "this node is leaving the network; use another node");
    part = stream.getPart(seq, index);
    if (!part && !arrived)
      throw new SrpError("RELOAD_TIMEOUT", `part ${seq}.${index} did not appear in time`);
  }
  if (!part || part.failed) throw new SrpError("SEGMENT_NOT_FOUND", `part ${seq}.${index} not found`);
  await sendPart(ctx, req, res, part, session);
}

async function sendPart(
  ctx: ServeContext,
  req: IncomingMessage,
  res: ServerResponse,
  part: PartObject,
  session: string | undefined,
): Promise<void> {
  const served = await ctx.signer.servedPart?.(part);
  ctx.metrics.requests.inc({ kind: "part", status: "200" });
  // No delivery signature: fraud proofs judge whole segments (FraudProof.sol's Segment); a part's
  // bytes are still bound to the streamer's signature, which the player checks.
  res.writeHead(200, {
    "content-type": CONTENT_TYPE_SEGMENT,
    "content-length": String(part.byteLength),
    "cache-control": IMMUTABLE,
    "access-control-allow-origin": "*",
    "access-control-expose-headers": HEADER_PART_ATTESTATION,
    [HEADER_PART_ATTESTATION]: encodePartAttestationHeader(part.attestation),
  });
  if (req.method === "HEAD") {
    res.end();
    return;
  }
  ctx.metrics.bytesServed.inc({ kind: "part" }, part.byteLength);
  ctx.metrics.totals.bytesServed += part.byteLength;
  if (session !== undefined) ctx.ledger.add(session, part.attestation.streamId, part.byteLength, 0);
  streamBody(res, part, served ?? part.bytes);
}
