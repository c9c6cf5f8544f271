import { z } from "zod";
import { ed25519Sign, ed25519Verify } from "./ed25519.ts";
import { utf8 } from "./encoding.ts";
import { SrpError } from "./errors.ts";
import { AddressSchema } from "./ids.ts";

/**
 * A probe request the coordinator asks a relay to make on its behalf, so the
 * probed node sees a request from another address than the coordinator's and
 * cannot single probes out. Signed with the coordinator's ticket key: a relay
 * fetches only what the coordinator asked, once, within a short window; it is
 * never an open proxy. The task names the one relay asked to run it (`via`),
 * so a task seen by one relay cannot be replayed at another within its window.
 */
export const ProbeTaskSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/ }).max(2048),
  method: z.enum(["GET", "POST"]),
  headers: z
    .record(z.string().regex(/^[a-z0-9-]{1,64}$/), z.string().max(1024))
    .refine((h) => Object.keys(h).length <= 32, "at most 32 headers"),
  /** A small text body (the probe's receipt); none for GET. */
  body: z
    .string()
    .max(64 * 1024)
    .optional(),
  /** The node id of the relay asked to run the task; any other relay refuses it. */
  via: AddressSchema,
  nonce: z.string().regex(/^[0-9a-f]{32}$/),
  issuedAt: z.number().int().nonnegative(),
  signature: z.string().max(200),
});
export type ProbeTask = z.infer<typeof ProbeTaskSchema>;

/** How old a task may be when a relay takes it (ms): long enough for clock skew, short enough to bound replays. */
export const PROBE_TASK_MAX_AGE_MS = 30_000;

/**
 * How long a relay waits for the probed node (ms), headers and body. The
 * coordinator allows the relay this plus a little to answer before it counts
 * the relay at fault: both must agree, so it lives here.
 */
export const PROBE_TASK_FETCH_TIMEOUT_MS = 5_000;

/** Headers a relay returns with what it fetched: the upstream's status and its relevant headers. */
export const HEADER_PROBE_STATUS = "x-srp-probe-status";
export const HEADER_PROBE_HEADERS = "x-srp-probe-headers";

export function probeTaskSigningBytes(t: Omit<ProbeTask, "signature">): Uint8Array<ArrayBuffer> {
  const headers = Object.entries(t.headers).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return utf8(
    `srp-probe-v2\n${JSON.stringify([t.url, t.method, headers, t.body ?? null, t.via.toLowerCase(), t.nonce, t.issuedAt])}`,
  );
}

export async function signProbeTask(
  coordinatorKey: CryptoKey,
  t: Omit<ProbeTask, "signature">,
): Promise<ProbeTask> {
  return { ...t, signature: await ed25519Sign(coordinatorKey, probeTaskSigningBytes(t)) };
}

/**
 * Rule: a relay runs a probe task only if the coordinator signed it, it names
 * this relay (`selfNodeId`), it is fresh, and its nonce was not seen (`seen`
 * remembers nonces for the window). Throws FORBIDDEN, BAD_SIGNATURE,
 * TICKET_EXPIRED or CONFLICT.
 */
export async function verifyProbeTask(
  t: ProbeTask,
  coordinatorPublicKey: string,
  selfNodeId: string,
  now: number,
  seen: { has(nonce: string): boolean; add(nonce: string, until: number): void },
): Promise<void> {
  if (t.via.toLowerCase() !== selfNodeId.toLowerCase()) {
    throw new SrpError("FORBIDDEN", "probe task is addressed to another relay");
  }
  if (Math.abs(now - t.issuedAt) > PROBE_TASK_MAX_AGE_MS) {
    throw new SrpError("TICKET_EXPIRED", "probe task is too old (or from the future)");
  }
  const { signature, ...unsigned } = t;
  if (!(await ed25519Verify(coordinatorPublicKey, signature, probeTaskSigningBytes(unsigned)))) {
    throw new SrpError("BAD_SIGNATURE", "probe task is not signed by the coordinator");
  }
  if (seen.has(t.nonce)) throw new SrpError("CONFLICT", "probe task already run (replay)");
  seen.add(t.nonce, t.issuedAt + 2 * PROBE_TASK_MAX_AGE_MS); // past the widest acceptance window
}
