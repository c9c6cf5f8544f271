import type { ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import type { AttestedBytes, MediaObject } from "./media-object.ts";

/**
 * Sends an object's body: `bytes` in one write when given (complete), else
 * what arrived so far and the rest as it arrives; a failed object cuts the
 * connection (never a short 200).
 */
/** A TLS record's plaintext at most: a body this small costs less to copy than a record of its own. */
const TLS_RECORD_BYTES = 16 * 1024;

export function streamBody<A extends AttestedBytes>(
  res: ServerResponse,
  obj: MediaObject<A>,
  bytes: Buffer | undefined,
): void {
  if (bytes) {
    // HTTP/1.1 over TLS: node copies a head and body written together into one new buffer before
    // encrypting (TLSWrap concatenates a multi-buffer write); sent apart, the body is not copied.
    const req = res.req;
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
