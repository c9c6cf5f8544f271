import { setTimeout as sleep } from "node:timers/promises";
import {
  encodeAttestationHeader,
  HEADER_ATTESTATION,
  HEADER_INIT_VERSION,
  initFileName,
  type NodeInfo,
  RENDITION_INIT,
  RENDITION_MAIN,
  type SegmentAttestation,
  SrpError,
  segmentFileName,
  sha256Hex,
  signSegmentAttestation,
  signStreamEnd,
} from "@streamrp2p/protocol";
import type { FetchLike, Logger } from "@streamrp2p/service";
import type { LocalAccount } from "viem";

export interface PublisherDeps {
  streamId: string;
  signer: LocalAccount;
  /** Current ingest relays for the stream (from the coordinator). */
  resolveIngest(): Promise<NodeInfo[]>;
  fetch?: FetchLike;
  log: Logger;
  onPushed?(target: string, ok: boolean): void;
  now?: () => number;
}

export interface PublisherOptions {
  refreshMs: number; // ms between ingest-list refreshes
  attempts: number; // tries per object per relay
  timeoutMs: number; // ms per PUT
}

const PUBLISHER_DEFAULTS: PublisherOptions = { refreshMs: 3_000, attempts: 3, timeoutMs: 5_000 };

interface Target {
  info: NodeInfo;
  /** Serializes this relay's pushes so segments arrive in order; one slow relay never holds up another. */
  queue: Promise<void>;
  initSent: number;
}

interface Pushed {
  file: string;
  att: SegmentAttestation;
  bytes: Buffer;
  init: number;
}

/**
 * Signs every init and segment once and pushes it to each ingest relay
 * (HTTP PUT). A relay that fails is retried, then skipped; the others go on.
 */
export class IngestPublisher {
  readonly #d: PublisherDeps;
  readonly #o: PublisherOptions;
  readonly #fetch: FetchLike;
  readonly #targets = new Map<string, Target>();
  #currentInit: Pushed | undefined;
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;

  constructor(deps: PublisherDeps, options: Partial<PublisherOptions> = {}) {
    this.#d = deps;
    this.#o = { ...PUBLISHER_DEFAULTS, ...options };
    this.#fetch = deps.fetch ?? fetch;
  }

  get targets(): NodeInfo[] {
    return [...this.#targets.values()].map((t) => t.info);
  }

  async start(): Promise<void> {
    await this.refresh();
    this.#timer = setInterval(() => void this.refresh(), this.#o.refreshMs);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Re-reads the ingest relays; new ones get the current init before anything else. */
  refresh(): Promise<void> {
    this.#refreshing ??= (async () => {
      try {
        const nodes = await this.#d.resolveIngest();
        const ids = new Set<string>(nodes.map((n) => n.nodeId));
        for (const id of this.#targets.keys()) if (!ids.has(id)) this.#targets.delete(id);
        for (const n of nodes) {
          const existing = this.#targets.get(n.nodeId);
          if (existing) existing.info = n;
          else {
            this.#targets.set(n.nodeId, { info: n, queue: Promise.resolve(), initSent: -1 });
            this.#d.log.info("pushing to ingest relay", {
              streamId: this.#d.streamId,
              nodeId: n.nodeId,
              url: n.url,
            });
          }
        }
        if (nodes.length === 0)
          this.#d.log.warn("no ingest relay for stream", { streamId: this.#d.streamId });
      } catch (err) {
        this.#d.log.warn("cannot refresh ingest relays", { streamId: this.#d.streamId, err });
      } finally {
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }

  async #attest(
    rendition: string,
    seq: number,
    bytes: Buffer,
    durationMs: number,
  ): Promise<SegmentAttestation> {
    return signSegmentAttestation(this.#d.signer, {
      streamId: this.#d.streamId,
      rendition,
      seq,
      sha256: sha256Hex(bytes),
      byteLength: bytes.length,
      durationMs,
      producedAt: (this.#d.now ?? Date.now)(),
    });
  }

  async publishInit(version: number, bytes: Buffer): Promise<SegmentAttestation> {
    const att = await this.#attest(RENDITION_INIT, version, bytes, 0);
    this.#currentInit = { file: initFileName(version), att, bytes, init: version };
    await this.#fanOut();
    return att;
  }

  async publishSegment(
    seq: number,
    init: number,
    bytes: Buffer,
    durationMs: number,
  ): Promise<SegmentAttestation> {
    const att = await this.#attest(RENDITION_MAIN, seq, bytes, durationMs);
    await this.#fanOut({ file: segmentFileName(seq), att, bytes, init });
    return att;
  }

  async publishEnd(lastSeq: number): Promise<void> {
    const end = await signStreamEnd(this.#d.signer, {
      streamId: this.#d.streamId,
      lastSeq,
      producedAt: Date.now(),
    });
    const body = JSON.stringify(end);
    await Promise.all(
      [...this.#targets.values()].map((t) =>
        this.#enqueue(t, () => this.#send(t, "POST", "end", body, { "content-type": "application/json" })),
      ),
    );
  }

  /** Queues `obj` (and the init first, where a relay lacks it) on every target; resolves when all tried. */
  async #fanOut(obj?: Pushed): Promise<void> {
    await Promise.all(
      [...this.#targets.values()].map((t) =>
        this.#enqueue(t, async () => {
          const init = this.#currentInit;
          if (init && t.initSent !== init.init) {
            if (!(await this.#put(t, init))) return;
            t.initSent = init.init;
          }
          if (obj) await this.#put(t, obj);
        }),
      ),
    );
  }

  #enqueue(t: Target, task: () => Promise<unknown>): Promise<void> {
    const run = t.queue.then(task).then(
      () => undefined,
      (err: unknown) => this.#d.log.warn("push task failed", { err }),
    );
    t.queue = run;
    return run;
  }

  #put(t: Target, obj: Pushed): Promise<boolean> {
    const headers: Record<string, string> = {
      "content-type": "application/octet-stream",
      [HEADER_ATTESTATION]: encodeAttestationHeader(obj.att),
      [HEADER_INIT_VERSION]: String(obj.init),
    };
    return this.#send(t, "PUT", obj.file, obj.bytes, headers);
  }

  async #send(
    t: Target,
    method: string,
    file: string,
    body: Buffer | string,
    headers: Record<string, string>,
  ): Promise<boolean> {
    const url = `${t.info.url}/live/${this.#d.streamId}/${file}`;
    let lastError: unknown;
    for (let attempt = 1; attempt <= this.#o.attempts; attempt++) {
      try {
        const payload =
          typeof body === "string"
            ? body
            : new Uint8Array(body.buffer as ArrayBuffer, body.byteOffset, body.byteLength);
        const res = await this.#fetch(url, {
          method,
          headers,
          body: payload,
          signal: AbortSignal.timeout(this.#o.timeoutMs),
        });
        const text = await res.text();
        if (res.ok) {
          this.#d.onPushed?.(t.info.nodeId, true);
          return true;
        }
        lastError = new SrpError(
          "UPSTREAM_FAILED",
          `${method} ${url}: HTTP ${res.status} ${text.slice(0, 200)}`,
        );
        // A relay that refuses on principle (4xx other than "stream unknown yet") will not change its mind.
        if (res.status >= 400 && res.status < 500 && res.status !== 404) break;
      } catch (err) {
        lastError = err;
      }
      await sleep(100 * attempt);
    }
    this.#d.onPushed?.(t.info.nodeId, false);
    this.#d.log.warn("push failed", {
      streamId: this.#d.streamId,
      nodeId: t.info.nodeId,
      file,
      err: lastError,
    });
    t.initSent = -1; // resend the init once it is back: it may have restarted empty
    void this.refresh();
    return false;
  }
}
