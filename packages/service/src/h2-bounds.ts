import { constants, type Http2Session, type ServerHttp2Stream } from "node:http2";
import type { HttpServerLimits } from "./defaults.ts";

/**
 * Header entries one HTTP/2 request may carry, pseudo-headers included.
 * Ours and a browser's carry under 30; node's default is 128.
 */
export const MAX_H2_HEADER_PAIRS = 64;

/** How long a closing session's GOAWAY gets to reach the peer before the socket is cut. */
const GOAWAY_FLUSH_MS = 1_000;

/** A header list's size as RFC 9113 6.5.2 counts it: name and value octets plus 32 per entry. */
export function headerListBytes(rawHeaders: readonly string[]): number {
  let n = 0;
  // Header values reach node as latin1 strings: one char per octet.
  for (const h of rawHeaders) n += h.length;
  return n + 16 * rawHeaders.length; // 32 per name/value pair
}

/**
 * The bounds node:http gives an HTTP/1.1 connection, for one HTTP/2 session,
 * which node:http2 has none of:
 * - a session must open its first stream within headersTimeoutMs, and may sit
 *   with no stream open for keepAliveTimeoutMs (a peer trickling the bytes of
 *   one never-finished frame keeps the session's idle timer alive forever);
 * - a stream's request (head and body) must arrive within requestTimeoutMs
 *   (a stream opened and never finished holds one of the session's streams);
 * - a stream moving no byte either way for idleTimeoutMs is reset (another
 *   busy stream keeps the session's idle timer alive).
 * A response may take as long as it needs while bytes move or it waits
 * silently less than idleTimeoutMs: long polls and blocking playlist reloads
 * are answered to complete requests, which no deadline here touches.
 */
export function boundHttp2Session(session: Http2Session, limits: HttpServerLimits): void {
  let open = 0;
  let opened = false;
  let idle: NodeJS.Timeout | undefined;
  const armIdle = () => {
    clearTimeout(idle);
    const ms = opened ? limits.keepAliveTimeoutMs : limits.headersTimeoutMs;
    idle = setTimeout(() => {
      session.close(); // GOAWAY: a well-behaved client opens its next request elsewhere
      // close() waits for pending writes: a peer that reads nothing would hold the session.
      setTimeout(() => session.destroy(), GOAWAY_FLUSH_MS).unref();
    }, ms);
    idle.unref();
  };
  session.on("stream", (stream: ServerHttp2Stream) => {
    open += 1;
    opened = true;
    clearTimeout(idle);
    const deadline = setTimeout(() => {
      if (stream.state.remoteClose !== 1) stream.close(constants.NGHTTP2_CANCEL);
    }, limits.requestTimeoutMs);
    deadline.unref();
    stream.setTimeout(limits.idleTimeoutMs, () => stream.close(constants.NGHTTP2_CANCEL));
    stream.once("close", () => {
      clearTimeout(deadline);
      open -= 1;
      if (open === 0 && !session.closed && !session.destroyed) armIdle();
    });
  });
  session.once("close", () => clearTimeout(idle));
  armIdle();
}
