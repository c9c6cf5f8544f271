import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FUZZ_SEED } from "../support/fuzz.ts";
import { type ProcessNetwork, rssKiB, startProcessNetwork } from "../support/processes.ts";

const HANDSHAKE_BYTES = 1536; // C1 and C2
/** Chunk streams the allocation attack opens; each declares the largest RTMP message (16 MiB). */
const ATTACK_CHUNK_STREAMS = 200;
/**
 * The RTMP engine allocates each declared message (zero-filled) before its
 * bytes arrive: unbounded, 200 x 16 MiB of address space for ~28 kB sent
 * (measured: +3.1 GiB virtual; the kernel commits pages only when written,
 * so RSS stayed flat). Both must stay flat.
 */
const RSS_GROWTH_LIMIT_KIB = 64 * 1024;
const VIRTUAL_GROWTH_LIMIT_KIB = 256 * 1024;
const RANDOM_SESSIONS = 200;

function vmSizeKiB(pid: number): number {
  return Number(/^VmSize:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? Number.NaN);
}

function rtmpPort(net: ProcessNetwork): number {
  const m = /rtmp:\/\/127\.0\.0\.1:(\d+)\//.exec(net.origin.output());
  if (!m?.[1]) throw new Error(`origin printed no RTMP URL:\n${net.origin.output()}`);
  return Number(m[1]);
}

/** Connects, sends the bytes, waits for the origin to close the socket or `ms`, then closes it. */
function session(port: number, parts: Buffer[], ms: number): Promise<void> {
  return new Promise((resolve) => {
    const s: Socket = connect({ host: "127.0.0.1", port }, async () => {
      for (const p of parts) {
        if (s.destroyed) break;
        s.write(p);
        await new Promise((r) => setTimeout(r, 5));
      }
    });
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      resolve();
    };
    const timer = setTimeout(done, ms);
    s.on("data", () => {});
    s.on("error", done);
    s.on("close", done);
  });
}

/** Chunk header, format 0, 3-byte basic header (chunk stream ids up to 65,599): a new message of `length` bytes. */
function chunkHeader(cid: number, length: number): Buffer {
  const h = Buffer.alloc(3 + 11);
  h[0] = 1; // fmt 0, cid from the next two bytes
  h.writeUInt16LE(cid - 64, 1);
  h.writeUIntBE(0, 3, 3); // timestamp
  h.writeUIntBE(length, 6, 3); // message length
  h[9] = 20; // AMF0 command
  h.writeUInt32LE(0, 10); // message stream id
  return h;
}

describe("RTMP port of an origin process: random and hostile bytes before any stream key", () => {
  let net: ProcessNetwork;
  let port: number;
  beforeAll(async () => {
    net = await startProcessNetwork("rtmp-fuzz");
    port = rtmpPort(net);
  }, 60_000);
  afterAll(async () => {
    await net?.stop();
  });

  it(`${RANDOM_SESSIONS} sessions of random bytes, with and without a handshake: the origin stays up`, async () => {
    const sessions = fc.sample(
      fc.tuple(fc.boolean(), fc.array(fc.uint8Array({ minLength: 1, maxLength: 2_000 }), { maxLength: 6 })),
      { seed: FUZZ_SEED, numRuns: RANDOM_SESSIONS },
    );
    for (let i = 0; i < sessions.length; i += 20) {
      await Promise.all(
        sessions
          .slice(i, i + 20)
          .map(([handshake, chunks]) =>
            session(
              port,
              [
                ...(handshake
                  ? [Buffer.from([3]), randomBytes(HANDSHAKE_BYTES), randomBytes(HANDSHAKE_BYTES)]
                  : []),
                ...chunks.map((c) => Buffer.from(c)),
              ],
              300,
            ),
          ),
      );
    }
    expect(net.origin.exited, net.origin.output()).toBeUndefined();
    expect((await fetch(`${net.origin.url}/healthz`)).status).toBe(200);
  }, 60_000);

  it(`after a handshake, ${ATTACK_CHUNK_STREAMS} chunk streams each declaring a 16 MiB message are refused before they reserve memory`, async () => {
    const rss0 = rssKiB(net.origin.pid);
    const vm0 = vmSizeKiB(net.origin.pid);
    let peak = rss0;
    let vmPeak = vm0;
    const sampler = setInterval(() => {
      if (net.origin.exited) return;
      peak = Math.max(peak, rssKiB(net.origin.pid));
      vmPeak = Math.max(vmPeak, vmSizeKiB(net.origin.pid));
    }, 50);
    // 142 bytes per 16 MiB the parser allocates (zero-filled) for a message that never comes.
    const attack: Buffer[] = [Buffer.from([3]), randomBytes(HANDSHAKE_BYTES), randomBytes(HANDSHAKE_BYTES)];
    for (let i = 0; i < ATTACK_CHUNK_STREAMS; i++)
      attack.push(Buffer.concat([chunkHeader(100 + i, 0xff_ffff), Buffer.alloc(128)]));
    try {
      await session(port, attack, 3_000);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      clearInterval(sampler);
    }
    // Virtual size shows the allocations happened (the attack reached the parser); RSS is what costs.
    process.stdout.write(
      `rtmp allocation attack: origin RSS ${rss0} -> peak ${peak} KiB, virtual ${vm0} -> peak ${vmPeak} KiB\n`,
    );
    expect(net.origin.exited, net.origin.output()).toBeUndefined();
    expect(peak - rss0).toBeLessThan(RSS_GROWTH_LIMIT_KIB);
    expect(vmPeak - vm0).toBeLessThan(VIRTUAL_GROWTH_LIMIT_KIB);
    expect((await fetch(`${net.origin.url}/healthz`)).status).toBe(200);
  }, 30_000);
});
