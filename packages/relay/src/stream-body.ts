import type { ServerResponse } from "node:http";
import type { AttestedBytes, MediaObject } from "./media-object.ts";

/**
 * Sends an object's body: `bytes` in one write when given (complete), else
 * what arrived so far and the rest as it arrives; a failed object cuts the
 * connection (never a short 200).
 */
export function streamBody<A extends AttestedBytes>(
  res: ServerResponse,
  obj: MediaObject<A>,
  bytes: Buffer | undefined,
): void {
  if (bytes) {
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
