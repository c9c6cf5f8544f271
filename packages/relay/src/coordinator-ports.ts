import type { CoordinatorClient } from "@streamrp2p/api-client";
import { isSrpError, SrpError, StreamIdSchema } from "@streamrp2p/protocol";
import type { StreamDirectory, UpstreamResolver } from "./ports.ts";

const SIGNER_TTL_MS = 60_000; // ms a known signer is trusted from cache
const UNKNOWN_TTL_MS = 2_000; // ms an unknown stream stays unknown
/** Cached answers; past this the cache starts over (a flood of made-up ids cannot grow it). */
const MAX_CACHED_STREAMS = 10_000; // entries

/** Stream signers from the coordinator, cached (signers never change for a stream id). */
export function coordinatorDirectory(client: CoordinatorClient): StreamDirectory {
  const cache = new Map<string, { signer: string | undefined; until: number }>();
  return {
    async signerOf(streamId) {
      // Ids come from request paths: one that cannot exist is unknown without asking or caching.
      if (!StreamIdSchema.safeParse(streamId).success) return undefined;
      const hit = cache.get(streamId);
      if (hit && hit.until > Date.now()) return hit.signer;
      if (cache.size >= MAX_CACHED_STREAMS) cache.clear();
      try {
        const info = await client.getStream(streamId);
        cache.set(streamId, { signer: info.signer, until: Date.now() + SIGNER_TTL_MS });
        return info.signer;
      } catch (err) {
        if (!isSrpError(err, "STREAM_NOT_FOUND")) throw err;
        cache.set(streamId, { signer: undefined, until: Date.now() + UNKNOWN_TTL_MS });
        return undefined;
      }
    },
  };
}

/**
 * Upstream assignment by the coordinator (bounded fan-out, re-parenting),
 * asked with the node's bearer token: only a node may move itself in the tree.
 */
export function coordinatorResolver(
  client: CoordinatorClient,
  nodeId: string,
  token: () => string | undefined,
): UpstreamResolver {
  return {
    async resolve(streamId, exclude) {
      const bearer = token();
      if (!bearer) throw new SrpError("NO_UPSTREAM", "not registered with the coordinator yet");
      const a = await client.assignUpstream(bearer, streamId, nodeId, [...exclude]);
      return a.upstream;
    },
  };
}
