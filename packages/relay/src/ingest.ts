import type { IncomingMessage, ServerResponse } from "node:http";
import {
  checkSegmentBytes,
  decodeAttestationHeader,
  HEADER_ATTESTATION,
  HEADER_INIT_VERSION,
  parseMediaFileName,
  parseWith,
  RENDITION_INIT,
  RENDITION_MAIN,
  type SegmentAttestation,
  SrpError,
  StreamEndSchema,
  verifySegmentAttestation,
  verifyStreamEnd,
} from "@streamrp2p/protocol";
import { type Logger, readBody, readJson, sendJson } from "@streamrp2p/service";
import type { LiveStream } from "./live-stream.ts";
import { MediaObject } from "./media-object.ts";
import type { RelayMetrics } from "./metrics.ts";

export interface IngestContext {
  acceptsPush: boolean;
  maxSegmentBytes: number;
  /** The stream's window, created for a known stream; throws STREAM_NOT_FOUND for an unknown one. */
  openPushStream(streamId: string): Promise<LiveStream>;
  metrics: RelayMetrics;
  log: Logger;
}

function checkAttestationMatchesPath(
  att: SegmentAttestation,
  streamId: string,
  file: string,
): { isInit: boolean; seq: number } {
  const parsed = parseMediaFileName(file);
  if (!parsed || (parsed.kind !== "init" && parsed.kind !== "segment")) {
    throw new SrpError("NOT_FOUND", `cannot PUT ${file}`);
  }
  const isInit = parsed.kind === "init";
  const seq = parsed.kind === "init" ? parsed.version : parsed.seq;
  const rendition = isInit ? RENDITION_INIT : RENDITION_MAIN;
  if (att.streamId !== streamId || att.seq !== seq || att.rendition !== rendition) {
    throw new SrpError(
      "VALIDATION_FAILED",
      `attestation (${att.streamId}, ${att.rendition}, ${att.seq}) does not match ${streamId}/${file}`,
    );
  }
  return { isInit, seq };
}

function initVersionHeader(req: IncomingMessage): number {
  const raw = req.headers[HEADER_INIT_VERSION];
  const v = Number(raw);
  if (typeof raw !== "string" || !/^\d{1,9}$/.test(raw) || !Number.isSafeInteger(v)) {
    throw new SrpError("VALIDATION_FAILED", `missing or malformed ${HEADER_INIT_VERSION} header`);
  }
  return v;
}

/**
 * PUT /live/:stream/:file from an origin. Order matters: size, then the
 * signature, then the bytes; nothing is stored unless all three hold.
 */
async function acceptPut(
  ctx: IngestContext,
  req: IncomingMessage,
  streamId: string,
  file: string,
): Promise<number> {
  if (!ctx.acceptsPush) throw new SrpError("FORBIDDEN", "this relay does not accept pushes");
  const declared = Number(req.headers["content-length"] ?? Number.NaN);
  if (Number.isFinite(declared) && declared > ctx.maxSegmentBytes) {
    throw new SrpError("PAYLOAD_TOO_LARGE", `segment of ${declared} bytes exceeds ${ctx.maxSegmentBytes}`);
  }
  const stream = await ctx.openPushStream(streamId);
  const att = decodeAttestationHeader(req.headers[HEADER_ATTESTATION] as string | undefined);
  const { isInit, seq } = checkAttestationMatchesPath(att, streamId, file);
  const init = isInit ? seq : initVersionHeader(req);
  await verifySegmentAttestation(att, stream.signer);
  const bytes = await readBody(req, Math.min(ctx.maxSegmentBytes, att.byteLength));
  checkSegmentBytes(att, bytes);

  const existing = isInit ? stream.getInit(seq) : stream.getSegment(seq);
  if (existing && !existing.failed) {
    if (existing.attestation.sha256 === att.sha256) return 200; // a retried push: idempotent
    throw new SrpError("CONFLICT", `${file} already holds different signed bytes`);
  }
  const obj = MediaObject.complete(att, init, bytes);
  if (isInit) {
    stream.putInit(obj);
  } else {
    if (stream.end && seq > stream.end.lastSeq) stream.clearEnd();
    stream.putSegment(obj);
    ctx.metrics.segmentsIngested.inc({ source: "push" });
  }
  return 201;
}

export async function handlePut(
  ctx: IngestContext,
  req: IncomingMessage,
  res: ServerResponse,
  streamId: string,
  file: string,
): Promise<void> {
  try {
    const status = await acceptPut(ctx, req, streamId, file);
    sendJson(res, status, { ok: true });
  } catch (err) {
    if (!req.readableEnded) req.resume(); // drain what we refused, so the connection stays usable
    if (err instanceof SrpError) {
      ctx.metrics.rejectedPuts.inc({ code: err.code });
      ctx.log.warn("push refused", { streamId, file, code: err.code, reason: err.message });
    }
    throw err;
  }
}

/** POST /live/:stream/end — the origin's signed end of broadcast. */
export async function handleEnd(
  ctx: IngestContext,
  req: IncomingMessage,
  res: ServerResponse,
  streamId: string,
): Promise<void> {
  if (!ctx.acceptsPush) throw new SrpError("FORBIDDEN", "this relay does not accept pushes");
  const stream = await ctx.openPushStream(streamId);
  const end = parseWith(StreamEndSchema, await readJson(req), "stream end");
  if (end.streamId !== streamId) throw new SrpError("VALIDATION_FAILED", "stream end names another stream");
  await verifyStreamEnd(end, stream.signer);
  stream.setEnd(end);
  ctx.log.info("stream ended", { streamId, lastSeq: end.lastSeq });
  sendJson(res, 200, { ok: true });
}
