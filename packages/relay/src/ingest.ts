import type { IncomingMessage, ServerResponse } from "node:http";
import {
  type AttestationVerifier,
  attestationDigest,
  checkAttestationForFile,
  checkInitVersion,
  checkPartAttestationFor,
  checkSegmentBytes,
  decodeAttestationHeader,
  decodePartAttestationHeader,
  HEADER_ATTESTATION,
  HEADER_INIT_VERSION,
  HEADER_PART_ATTESTATION,
  parseMediaFileName,
  parseWith,
  type SigningDomain,
  SOURCE_RUNG,
  SrpError,
  StreamEndSchema,
  streamEndApplies,
  streamEndNames,
  streamEndReached,
  verifyStreamEnd,
} from "@streamrp2p/protocol";
import { type Logger, readBody, readJson, sendJson } from "@streamrp2p/service";
import type { LiveStream } from "./live-stream.ts";
import { MediaObject } from "./media-object.ts";
import type { RelayMetrics } from "./metrics.ts";

export interface IngestContext {
  acceptsPush: boolean;
  maxSegmentBytes: number;
  /** The stream's registered signing key; throws STREAM_NOT_FOUND for an unknown stream. */
  signerOf(streamId: string): Promise<string>;
  /** The stream's window, created once a verified object arrives; throws UNAVAILABLE when the relay is full. */
  openPushStream(streamId: string, signer: string): LiveStream;
  /** The stream's window if the relay holds one; never creates state. */
  heldStream(streamId: string): LiveStream | undefined;
  attestations: AttestationVerifier;
  /** The deployment attestation digests are computed in. */
  domain(): Promise<SigningDomain>;
  /** The relay is draining (leaving): pushes are refused so the origin moves on at once. */
  draining(): boolean;
  metrics: RelayMetrics;
  log: Logger;
}

/** `x-srp-init` as sent (optional: the attestation's signed initVersion is what counts). */
function initVersionHeader(req: IncomingMessage): number | undefined {
  const raw = req.headers[HEADER_INIT_VERSION];
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (typeof raw !== "string" || !/^\d{1,15}$/.test(raw) || !Number.isSafeInteger(v)) {
    throw new SrpError("VALIDATION_FAILED", `malformed ${HEADER_INIT_VERSION} header`);
  }
  return v;
}

/**
 * PUT /live/:stream/:file (or /live/:stream/:rung/:file, a transcoded rung)
 * from an origin. Order matters: size, the attestation names this file under
 * this rung, the signature is the stream's, then the bytes are the attested
 * ones; no state is created, for the stream, the rung or the object, unless
 * all of them hold.
 */
async function acceptPut(
  ctx: IngestContext,
  req: IncomingMessage,
  streamId: string,
  file: string,
  rung: string,
): Promise<number> {
  if (!ctx.acceptsPush) throw new SrpError("FORBIDDEN", "this relay does not accept pushes");
  // Leaving: the origin drops this relay at once and the coordinator's next choice takes the stream.
  if (ctx.draining()) throw new SrpError("DRAINING", "this relay is leaving the network");
  const declared = Number(req.headers["content-length"] ?? Number.NaN);
  if (Number.isFinite(declared) && declared > ctx.maxSegmentBytes) {
    throw new SrpError("PAYLOAD_TOO_LARGE", `segment of ${declared} bytes exceeds ${ctx.maxSegmentBytes}`);
  }
  const part = parseMediaFileName(file);
  if (part?.kind === "part") return acceptPart(ctx, req, streamId, part.seq, part.part);
  const att = decodeAttestationHeader(req.headers[HEADER_ATTESTATION] as string | undefined);
  const object = checkAttestationForFile(att, streamId, file, rung);
  const isInit = object.kind === "init";
  // The init a segment plays with is the one its attestation signs; a header that says otherwise is a lie.
  const claimed = isInit ? undefined : initVersionHeader(req);
  if (claimed !== undefined) checkInitVersion(att, claimed);
  const init = att.initVersion;
  const signer = await ctx.signerOf(streamId);
  await ctx.attestations.verify(att, signer);
  if (att.byteLength > ctx.maxSegmentBytes) {
    throw new SrpError(
      "PAYLOAD_TOO_LARGE",
      `segment of ${att.byteLength} bytes exceeds ${ctx.maxSegmentBytes}`,
    );
  }
  const bytes = await readBody(req, att.byteLength);
  checkSegmentBytes(att, bytes);

  const source = ctx.openPushStream(streamId, signer);
  const stream = rung === SOURCE_RUNG ? source : source.openRendition(rung);
  const existing = isInit ? stream.getInit(object.seq) : stream.getSegment(object.seq);
  // Half-arrived from an upstream this relay pulled from: the pushed bytes (checked against the
  // same attestation) finish it, so readers waiting on it are not left hanging. Bytes the
  // upstream got wrong fail it here, and the pushed object replaces it below.
  if (existing && !existing.failed && !existing.isComplete && existing.attestation.sha256 === att.sha256) {
    if (existing.init === init) existing.append(bytes.subarray(existing.received));
  }
  if (existing && !existing.failed) {
    // A retried push is idempotent only if it is the same object in the same place.
    if (existing.attestation.sha256 === att.sha256 && existing.init === init) return 200;
    throw new SrpError("CONFLICT", `${file} already holds different signed bytes or another init`);
  }
  if (!isInit) stream.checkNewSegment(object.seq, init);
  const obj = MediaObject.complete(att, init, bytes);
  if (isInit) {
    stream.putInit(obj);
  } else {
    if (stream.end && object.seq > stream.end.lastSeq) stream.clearEnd();
    stream.putSegment(obj);
    ctx.metrics.segmentsIngested.inc({ source: "push" });
  }
  return 201;
}

/**
 * PUT /live/:stream/part-S.P.m4s: an LL-HLS part from the origin, in the
 * same order as a segment: size (checked by the caller), the attestation
 * names this part, the stream's signature, the bytes, then the window's rules.
 */
async function acceptPart(
  ctx: IngestContext,
  req: IncomingMessage,
  streamId: string,
  seq: number,
  index: number,
): Promise<number> {
  const att = decodePartAttestationHeader(req.headers[HEADER_PART_ATTESTATION] as string | undefined);
  checkPartAttestationFor(att, streamId, seq, index);
  const signer = await ctx.signerOf(streamId);
  await ctx.attestations.verifyPart(att, signer);
  if (att.byteLength > ctx.maxSegmentBytes) {
    throw new SrpError("PAYLOAD_TOO_LARGE", `part of ${att.byteLength} bytes exceeds ${ctx.maxSegmentBytes}`);
  }
  const bytes = await readBody(req, att.byteLength);
  checkSegmentBytes(att, bytes);
  // A part needs its init, which created the stream: no state is created for a part alone.
  const stream = ctx.heldStream(streamId);
  if (!stream)
    throw new SrpError("INIT_NOT_HELD", `part ${seq}.${index} needs an init this relay does not hold`);
  const existing = stream.getPart(seq, index);
  if (existing && !existing.failed) {
    if (existing.attestation.sha256 === att.sha256 && existing.init === att.initVersion) return 200;
    throw new SrpError("CONFLICT", `part ${seq}.${index} already holds different signed bytes`);
  }
  stream.checkNewPart(att);
  stream.putPart(MediaObject.complete(att, att.initVersion, bytes));
  ctx.metrics.partsIngested.inc({ source: "push" });
  return 201;
}

export async function handlePut(
  ctx: IngestContext,
  req: IncomingMessage,
  res: ServerResponse,
  streamId: string,
  file: string,
  rung: string = SOURCE_RUNG,
): Promise<void> {
  try {
    const status = await acceptPut(ctx, req, streamId, file, rung);
    sendJson(res, status, { ok: true });
  } catch (err) {
    if (!req.readableEnded) req.resume(); // drain what we refused, so the connection stays usable
    if (err instanceof SrpError) {
      ctx.metrics.rejectedPuts.inc({ code: err.code });
      ctx.log.warn("push refused", { streamId, rung, file, code: err.code, reason: err.message });
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
  const end = parseWith(StreamEndSchema, await readJson(req), "stream end");
  if (end.streamId !== streamId) throw new SrpError("VALIDATION_FAILED", "stream end names another stream");
  await verifyStreamEnd(end, await ctx.signerOf(streamId));
  // An end for a stream this relay holds nothing of changes nothing: no state for it.
  const stream = ctx.heldStream(streamId);
  if (!stream) {
    sendJson(res, 200, { ok: true, held: false });
    return;
  }
  // Ends are public (every window lists one): an old one replayed must not end a live broadcast,
  // and one from the future must not end it early.
  if (!streamEndApplies(end, stream.liveEdgeSeq)) {
    throw new SrpError(
      "CONFLICT",
      `end at seq ${end.lastSeq} is older than the live edge ${stream.liveEdgeSeq}`,
    );
  }
  if (!streamEndReached(end, stream.liveEdgeSeq)) {
    throw new SrpError(
      "CONFLICT",
      `end at seq ${end.lastSeq} is past the live edge ${stream.liveEdgeSeq}: send its last segment first`,
    );
  }
  // The end names the segment it ends after: the one held for lastSeq, in this deployment.
  const last = stream.getSegment(end.lastSeq);
  if (!last || !streamEndNames(end, attestationDigest(last.attestation, await ctx.domain()))) {
    throw new SrpError("CONFLICT", `end names another segment ${end.lastSeq} than the one held`);
  }
  stream.setEnd(end);
  ctx.log.info("stream ended", { streamId, lastSeq: end.lastSeq });
  sendJson(res, 200, { ok: true });
}
