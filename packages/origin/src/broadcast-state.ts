import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { SrpError } from "@streamrp2p/protocol";

/**
 * What a broadcast must never reuse across origin restarts: an (init, seq)
 * pair signed twice with different bytes lets anyone pair a relay's old
 * delivery signature with the new attestation, and relays ignore a sequence
 * that restarts below their live edge.
 */
export interface BroadcastPosition {
  /** The first media sequence number this process may sign. */
  nextSeq: number;
  /** The last init version signed (-1: none yet). */
  initVersion: number;
}

/** Where a broadcast's position survives the process. */
export interface BroadcastStateStore {
  load(): BroadcastPosition;
  /** Durably records that numbers below `seqLimit` and init versions up to `initVersion` may be in use. */
  reserve(seqLimit: number, initVersion: number): void;
}

function parseState(text: string): { seqLimit: number; initVersion: number } | undefined {
  try {
    const v = JSON.parse(text) as { seqLimit?: unknown; initVersion?: unknown };
    const { seqLimit, initVersion } = v;
    if (!Number.isSafeInteger(seqLimit) || !Number.isSafeInteger(initVersion)) return undefined;
    if ((seqLimit as number) < 0 || (initVersion as number) < -1) return undefined;
    return { seqLimit: seqLimit as number, initVersion: initVersion as number };
  } catch {
    return undefined;
  }
}

/**
 * One small JSON file per stream, replaced atomically (write, fsync, rename).
 * Sequence numbers are reserved ahead in blocks, like a database sequence: a
 * restart, even after `kill -9`, starts past everything the old process could
 * have signed, at the cost of a jump in numbering.
 */
export class FileBroadcastState implements BroadcastStateStore {
  readonly #path: string;

  constructor(dir: string, streamId: string) {
    this.#path = join(dir, `${streamId}.broadcast.json`);
  }

  load(): BroadcastPosition {
    let text: string;
    try {
      text = readFileSync(this.#path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return { nextSeq: 0, initVersion: -1 };
      throw err;
    }
    const parsed = parseState(text);
    if (!parsed) {
      // Guessing a position could re-sign numbers already in use: refuse, loudly.
      throw new SrpError("VALIDATION_FAILED", `broadcast state ${this.#path} is corrupt; fix or remove it`);
    }
    return { nextSeq: parsed.seqLimit, initVersion: parsed.initVersion };
  }

  reserve(seqLimit: number, initVersion: number): void {
    mkdirSync(dirname(this.#path), { recursive: true });
    const tmp = `${this.#path}.tmp`;
    const fd = openSync(tmp, "w", 0o600);
    try {
      writeSync(fd, JSON.stringify({ seqLimit, initVersion }));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.#path);
  }
}

/** For an origin run without a state directory: positions last as long as the process. */
export class MemoryBroadcastState implements BroadcastStateStore {
  #state: BroadcastPosition = { nextSeq: 0, initVersion: -1 };
  load(): BroadcastPosition {
    return { ...this.#state };
  }
  reserve(seqLimit: number, initVersion: number): void {
    this.#state = { nextSeq: seqLimit, initVersion };
  }
}
