import { StreamIdSchema, WatchConfigSchema } from "@streamrp2p/protocol";

/** Everything the watch page takes from where it was served: the one place that plumbing lives. */
export interface WatchPageConfig {
  streamId: string;
  /** The replica that served the page first, then the coordinator's other replicas. */
  coordinatorUrls: string[];
}

/** The stream id from `/watch/<id>`; undefined for any other path. */
export function streamIdFromPath(pathname: string): string | undefined {
  const m = /^\/watch\/([^/]+)$/.exec(pathname);
  if (!m?.[1]) return undefined;
  let raw: string;
  try {
    raw = decodeURIComponent(m[1]);
  } catch {
    return undefined;
  }
  const parsed = StreamIdSchema.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}

/**
 * The coordinators the player asks, in order: the page's own origin, then the
 * replicas the coordinator names (GET /v1/watch-config). A reply that is not a
 * valid config leaves the page's origin alone: the viewer still plays.
 */
export function coordinatorUrls(pageOrigin: string, reply: unknown): string[] {
  const parsed = WatchConfigSchema.safeParse(reply);
  const replicas = parsed.success ? parsed.data.replicaUrls : [];
  return [pageOrigin, ...replicas.filter((u) => u !== pageOrigin)];
}

/** Reads the config for the page at `location`; never throws (a failed request means no replicas). */
export async function loadWatchConfig(
  location: { origin: string; pathname: string },
  fetchImpl: typeof fetch = fetch,
): Promise<WatchPageConfig | undefined> {
  const streamId = streamIdFromPath(location.pathname);
  if (streamId === undefined) return undefined;
  let reply: unknown;
  try {
    const res = await fetchImpl(`${location.origin}/v1/watch-config`, { cache: "no-store" });
    reply = res.ok ? await res.json() : undefined;
  } catch {
    reply = undefined;
  }
  return { streamId, coordinatorUrls: coordinatorUrls(location.origin, reply) };
}
