import { ViewerSession } from "@streamrp2p/player";
import { parseMediaPlaylist } from "@streamrp2p/protocol";

/** A node as the coordinator's registry lists it, for pinning a viewer to it. */
async function registered(session: ViewerSession, nodeId: string) {
  const res = await fetch(`${session.coordinatorUrl}/v1/nodes`);
  const { nodes } = (await res.json()) as { nodes: { nodeId: string; url: string; region: string }[] };
  const n = nodes.find((x) => x.nodeId === nodeId);
  if (!n) throw new Error(`node ${nodeId} is not registered`);
  return { nodeId: n.nodeId, url: n.url, region: n.region, score: 1 };
}

/**
 * An in-process viewer that fetches and signs exactly like the browser
 * player (it runs the player's ViewerSession), following the live playlist
 * as hls.js would: the init, then from three segments behind the edge on.
 */
export class SimulatedViewer {
  #timer: NodeJS.Timeout | undefined;
  #lastSeq = -1;
  #init: string | undefined;
  #busy = false;
  loadedSegments = 0;
  /** Segments the viewer never got (a jump in the sequence): a visible glitch. */
  skippedSegments = 0;
  /** Ticks where every node failed. */
  failedTicks = 0;

  private constructor(readonly session: ViewerSession) {}

  /**
   * `pinTo`: only that node. `prefer`: that node first, the others to fail
   * over to, with patient timeouts (a loaded test machine is slower than a
   * viewer's network, and a switch away would end the preference).
   */
  static async start(
    coordinatorUrl: string | readonly string[],
    streamId: string,
    pinTo?: string,
    prefer?: string,
  ): Promise<SimulatedViewer> {
    const session = await ViewerSession.open({
      coordinatorUrls: typeof coordinatorUrl === "string" ? [coordinatorUrl] : coordinatorUrl,
      streamId,
      receiptIntervalMs: 1_000,
      nodesRefreshMs: 3_600_000,
      ...(prefer
        ? {
            playlistTimeoutMs: 8_000,
            segmentTimeoutMs: 8_000,
            firstByteTimeoutMs: 8_000,
            bodyIdleTimeoutMs: 8_000,
          }
        : {}),
    });
    if (pinTo) {
      // Pinned: that node whether or not routing offered it (routing caps and spreads its list).
      const node = session.pool.order().find((n) => n.nodeId === pinTo) ?? (await registered(session, pinTo));
      session.pool.replace([node]);
    }
    if (prefer) {
      const nodes = session.pool.order();
      if (!nodes.some((n) => n.nodeId === prefer))
        throw new Error(`node ${prefer} is not in the viewer's list`);
      session.pool.replace(nodes.map((n) => (n.nodeId === prefer ? { ...n, score: 1e9 } : n)));
    }
    const v = new SimulatedViewer(session);
    v.#timer = setInterval(() => void v.#tick(), 500);
    return v;
  }

  async #tick(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      const streamId = this.session.ticket.streamId;
      const base = `/live/${streamId}`;
      const pl = await this.session.load(`${base}/index.m3u8`);
      const playlist = parseMediaPlaylist(pl.value.data as string);
      const todo = playlist.segments.filter((s) => s.mediaSequence > this.#lastSeq);
      for (const seg of this.#lastSeq === -1 ? todo.slice(-3) : todo) {
        if (seg.mapUri && seg.mapUri !== this.#init) {
          await this.session.load(`${base}/${seg.mapUri}`);
          this.#init = seg.mapUri;
        }
        await this.session.load(`${base}/${seg.uri}`);
        if (this.#lastSeq !== -1) this.skippedSegments += seg.mediaSequence - this.#lastSeq - 1;
        this.#lastSeq = seg.mediaSequence;
        this.loadedSegments += 1;
      }
    } catch {
      this.failedTicks += 1; // a real player retries on the next tick too
    } finally {
      this.#busy = false;
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    while (this.#busy) await new Promise((r) => setTimeout(r, 50));
    await this.session.close(); // last receipts
  }
}
