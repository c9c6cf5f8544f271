import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import {
  encodeAttestationHeader,
  initFileName,
  OFF_CHAIN_DOMAIN,
  segmentFileName,
  sha256Hex,
  signSegmentAttestation,
} from "@streamrp2p/protocol";
import type { Hex, LocalAccount } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ProcessNetwork, rssKiB, startProcessNetwork } from "../support/processes.ts";
import { waitUntil } from "../support/tools.ts";

/** The relay's limits for this test: short, so the test is quick; the defaults are the same mechanism. */
const HEADERS_TIMEOUT_MS = 2_000; // ms
const IDLE_TIMEOUT_MS = 10_000; // ms (the schema's minimum: above the 8 s window long-poll)
/** node:http checks the headers timeout once a second (connectionsCheckingIntervalMs). */
const CHECK_SLACK_MS = 2_500; // ms
const SLOWLORIS_SOCKETS = 300;
const SLOW_READERS = 20;
const BIG_SEGMENT_BYTES = 12 * 1024 * 1024; // more than loopback socket buffers take in, so the server blocks
const PROMPT_MS = 1_000; // ms a normal playlist request may take under attack
const RSS_GROWTH_LIMIT_KIB = 100 * 1024; // slow readers share one cached segment buffer

async function push(
  relayUrl: string,
  signer: LocalAccount,
  streamId: string,
  seq: number,
  bytes: Buffer,
  init: boolean,
) {
  const attestation = await signSegmentAttestation(signer, OFF_CHAIN_DOMAIN, {
    streamId,
    rendition: init ? "init" : "main",
    seq,
    initVersion: 0,
    sha256: sha256Hex(bytes),
    byteLength: bytes.length,
    durationMs: 1000,
    producedAt: Date.now(),
  });
  const file = init ? initFileName(seq) : segmentFileName(seq);
  const res = await fetch(`${relayUrl}/live/${streamId}/${file}`, {
    method: "PUT",
    headers: { "x-srp-attestation": encodeAttestationHeader(attestation), "x-srp-init": "0" },
    body: new Uint8Array(bytes),
  });
  if (res.status !== 201) throw new Error(`push ${file}: ${res.status} ${await res.text()}`);
}

async function openConnections(relayUrl: string): Promise<number> {
  const text = await (await fetch(`${relayUrl}/metrics`)).text();
  const n = Number(/^srp_relay_connections(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1] ?? Number.NaN);
  if (Number.isNaN(n)) throw new Error(`no srp_relay_connections in /metrics:\n${text.slice(0, 2000)}`);
  return n;
}

/** The relay's open connections once no earlier test's sockets linger (only the fetch's own keep-alive ones). */
async function quietConnections(relayUrl: string): Promise<number> {
  return waitUntil(
    "the relay's connections to settle",
    async () => {
      const n = await openConnections(relayUrl);
      return n <= 4 ? n : undefined;
    },
    15_000,
    100,
  );
}

async function timedPlaylist(relayUrl: string, streamId: string): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${relayUrl}/live/${streamId}/index.m3u8`, { signal: AbortSignal.timeout(5_000) });
  expect(res.status).toBe(200);
  expect(await res.text()).toContain("#EXTM3U");
  return performance.now() - started;
}

function open(relayUrl: string): Promise<Socket> {
  const { hostname, port } = new URL(relayUrl);
  return new Promise((resolve, reject) => {
    const s = connect({ host: hostname, port: Number(port) }, () => resolve(s));
    s.once("error", reject);
  });
}

describe("slow clients cannot exhaust a relay process (issue 10)", () => {
  let net: ProcessNetwork;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    net = await startProcessNetwork("slow-clients", [
      "--headers-timeout-ms",
      String(HEADERS_TIMEOUT_MS),
      "--idle-timeout-ms",
      String(IDLE_TIMEOUT_MS),
    ]);
    const key = readFileSync(join(net.keyDir, `${net.streamId}.signing.key`), "utf8").trim() as Hex;
    const signer = privateKeyToAccount(key);
    await push(net.relay.url, signer, net.streamId, 0, Buffer.from("init segment"), true);
    await push(net.relay.url, signer, net.streamId, 0, Buffer.alloc(BIG_SEGMENT_BYTES, 7), false);
    await push(net.relay.url, signer, net.streamId, 1, Buffer.from("media segment 1"), false);
  }, 60_000);
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await net?.stop();
  });

  it(`slowloris: ${SLOWLORIS_SOCKETS} connections dribbling headers are cut after the headers timeout; the playlist stays prompt`, async () => {
    const before = await quietConnections(net.relay.url);
    const rss0 = rssKiB(net.relay.pid);
    const closedAfter: number[] = [];
    const started = Date.now();
    const lorises = await Promise.all(Array.from({ length: SLOWLORIS_SOCKETS }, () => open(net.relay.url)));
    sockets.push(...lorises);
    for (const s of lorises) {
      s.on("error", () => {});
      s.on("data", () => {}); // a 408 may come first
      s.on("close", () => closedAfter.push(Date.now() - started));
      s.write(`GET /live/${net.streamId}/index.m3u8 HTTP/1.1\r\nhost: x\r\n`);
    }
    const dribble = setInterval(() => {
      for (const s of lorises) if (!s.destroyed) s.write("x-a: b\r\n");
    }, 300);
    try {
      // Under attack a normal viewer still gets the playlist promptly.
      expect(await timedPlaylist(net.relay.url, net.streamId)).toBeLessThan(PROMPT_MS);
      // The relay holds them all (accepting may lag the client's connect a little).
      await waitUntil(
        "the relay to accept every slowloris socket",
        async () => (await openConnections(net.relay.url)) >= before + SLOWLORIS_SOCKETS || undefined,
        2_000,
        50,
      );
      await waitUntil(
        "the server to close every slowloris socket",
        () => closedAfter.length === SLOWLORIS_SOCKETS || undefined,
        HEADERS_TIMEOUT_MS + CHECK_SLACK_MS + 5_000,
        50,
      );
    } finally {
      clearInterval(dribble);
    }
    const slowest = Math.max(...closedAfter);
    process.stdout.write(
      `slowloris: ${SLOWLORIS_SOCKETS} sockets closed by the server after ${Math.min(...closedAfter)}-${slowest} ms\n`,
    );
    expect(slowest).toBeLessThan(HEADERS_TIMEOUT_MS + CHECK_SLACK_MS);
    expect(await timedPlaylist(net.relay.url, net.streamId)).toBeLessThan(PROMPT_MS);
    expect(rssKiB(net.relay.pid) - rss0).toBeLessThan(RSS_GROWTH_LIMIT_KIB);
    expect(net.relay.exited).toBeUndefined();
  }, 30_000);

  it(`slow readers: ${SLOW_READERS} clients that never read a ${BIG_SEGMENT_BYTES / 1024 / 1024} MiB segment are closed after the idle timeout; RSS stays bounded`, async () => {
    const before = await quietConnections(net.relay.url);
    const rss0 = rssKiB(net.relay.pid);
    let rssPeak = rss0;
    const readers = await Promise.all(Array.from({ length: SLOW_READERS }, () => open(net.relay.url)));
    sockets.push(...readers);
    const started = Date.now();
    for (const s of readers) {
      s.on("error", () => {});
      s.write(`GET /live/${net.streamId}/${segmentFileName(0)} HTTP/1.1\r\nhost: x\r\n\r\n`);
      s.pause(); // never read: the response fills the socket buffers and the server's writes stall
    }
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, rssKiB(net.relay.pid));
    }, 200);
    try {
      await new Promise((r) => setTimeout(r, 1_000));
      await waitUntil(
        "the relay to accept every slow reader",
        async () => (await openConnections(net.relay.url)) >= before + SLOW_READERS || undefined,
        2_000,
        50,
      );
      expect(await timedPlaylist(net.relay.url, net.streamId)).toBeLessThan(PROMPT_MS);
      // The server sees nothing move for IDLE_TIMEOUT_MS and closes them (its connection count falls back).
      await waitUntil(
        "the relay to close the stalled connections",
        async () => (await openConnections(net.relay.url)) <= before || undefined,
        2 * IDLE_TIMEOUT_MS + 8_000,
        250,
      );
    } finally {
      clearInterval(sampler);
    }
    const closedAfterMs = Date.now() - started;
    process.stdout.write(
      `slow readers: ${SLOW_READERS} stalled connections closed by the server within ${closedAfterMs} ms; relay RSS ${rss0} -> peak ${rssPeak} KiB\n`,
    );
    expect(closedAfterMs).toBeGreaterThanOrEqual(IDLE_TIMEOUT_MS - 1_000); // closed by the idle timeout, not earlier by accident
    // node:net lets the first idle timeout pass when the write queue moved since the last check
    // (Socket._onTimeout), so a reader that stops mid-response is cut within two idle periods.
    expect(closedAfterMs).toBeLessThan(2 * IDLE_TIMEOUT_MS + 3_000);
    expect(rssPeak - rss0).toBeLessThan(RSS_GROWTH_LIMIT_KIB);
    expect(await timedPlaylist(net.relay.url, net.streamId)).toBeLessThan(PROMPT_MS);
    expect(net.relay.exited).toBeUndefined();
  }, 50_000);
});
