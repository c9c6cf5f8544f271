import { SrpError } from "@streamrp2p/protocol";

/**
 * Reads a fetched body whole, counting as it streams: over `maxBytes` (declared
 * or actual) it cancels the body and throws UPSTREAM_FAILED. A chunked body
 * with no length is never buffered past the limit.
 */
export async function readBodyCapped(res: Response, maxBytes: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers.get("content-length") ?? 0);
  if (declared > maxBytes) {
    await res.body?.cancel().catch(() => {});
    throw new SrpError("UPSTREAM_FAILED", `${what}: body of ${declared} bytes is over ${maxBytes}`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const part of (res.body ?? []) as unknown as AsyncIterable<Uint8Array>) {
    total += part.byteLength;
    if (total > maxBytes) {
      await res.body?.cancel().catch(() => {});
      throw new SrpError("UPSTREAM_FAILED", `${what}: body over ${maxBytes} bytes`);
    }
    chunks.push(Buffer.from(part.buffer, part.byteOffset, part.byteLength));
  }
  return Buffer.concat(chunks, total);
}
