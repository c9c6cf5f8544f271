import type { NodeInfo } from "@streamrp2p/protocol";

/** Where a relay learns a stream's signing key. */
export interface StreamDirectory {
  /** The stream's signing address (lowercase), or undefined when the stream is unknown. */
  signerOf(streamId: string): Promise<string | undefined>;
}

/** Where a relay gets (and replaces) its upstream for a stream. */
export interface UpstreamResolver {
  /** A node to pull `streamId` from, never one of `exclude`. Throws NO_UPSTREAM when there is none. */
  resolve(streamId: string, exclude: readonly string[]): Promise<NodeInfo>;
}
