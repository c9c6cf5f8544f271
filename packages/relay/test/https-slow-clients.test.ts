import { readFileSync } from "node:fs";
import {
  type ClientHttp2Session,
  constants,
  connect as h2connect,
  type OutgoingHttpHeaders,
} from "node:http2";
import { request as httpsRequest } from "node:https";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import {
  encodeAttestationHeader,
  HEADER_ATTESTATION,
  HEADER_INIT_VERSION,
  type SegmentAttestation,
  sha256Hex,
} from "@streamrp2p/protocol";
import { createRelay, type Relay, type RelayOptions } from "@streamrp2p/relay";
import { silentLogger } from "@streamrp2p/service";
import { afterEach, describe, expect, it } from "vitest";
import { newAccount, type SignedObject, signedObject } from "../../../test/support/fixtures.ts";
import { healthz, selfSigned } from "../../../test/support/tls-fixtures.ts";
import { tempDir } from "../../../test/support/tools.ts";

/** Tight limits so an attack is cut in seconds; the relay's silent waits are longer than all of them. */
const LIMITS = {
  headersTimeoutMs: 1_000,
  requestTimeoutMs: 1_500,
  connectionsCheckingIntervalMs: 200,
  keepAliveTimeoutMs: 4_000,
  idleTimeoutMs: 30_000,
};
/** What an attack gets at most before the relay cuts it: the longest limit above plus slack for a busy machine. */
const CUT_WITHIN_MS = 8_000;

/** Resolves true when `emitter` emits "close" within `ms`, else false. */
function closedWithin(emitter: { once(e: "close", f: () => void): unknown }, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    emitter.once("close", () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

/** Writes `chunks` one per `everyMs` until they run out or the socket closes. */
function trickle(socket: TLSSocket, chunks: Buffer | string, everyMs: number): () => void {
  const data = Buffer.from(chunks);
  let i = 0;
  const t = setInterval(() => {
    if (socket.destroyed || i >= data.length) return clearInterval(t);
    socket.write(data.subarray(i, i + 1));
    i += 1;
  }, everyMs);
  return () => clearInterval(t);
}

interface H2Answer {
  status: number;
  body: string;
  rstCode: number;
}

/** One HTTP/2 request on `session`: status, body, and the reset code (0 = ended cleanly). */
function h2(session: ClientHttp2Session, headers: OutgoingHttpHeaders, body?: Buffer): Promise<H2Answer> {
  return new Promise((resolve) => {
    const s = session.request(headers, { endStream: body === undefined });
    let status = 0;
    let text = "";
    s.on("response", (h) => {
      status = Number(h[":status"]);
    });
    s.setEncoding("utf8");
    s.on("data", (d: string) => {
      text += d;
    });
    s.on("error", () => {});
    s.on("close", () => resolve({ status, body: text, rstCode: s.rstCode ?? 0 }));
    if (body !== undefined) s.end(body);
  });
}

function putHeaders(file: string, att: SegmentAttestation, init: number): OutgoingHttpHeaders {
  return {
    ":method": "PUT",
    ":path": `/live/demo/${file}`,
    [HEADER_ATTESTATION]: encodeAttestationHeader(att),
    [HEADER_INIT_VERSION]: String(init),
  };
}

describe("relay HTTPS against slow and never-finishing clients", () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  /** An ingest relay on HTTPS (a self-signed certificate for 127.0.0.1) holding stream "demo". */
  async function start(extra: Partial<RelayOptions> = {}): Promise<{ relay: Relay; ca: string[] }> {
    const dir = tempDir("srp-tls-slow-");
    const pair = selfSigned(dir, "a");
    const streamer = newAccount();
    const relay = createRelay(
      {
        ingest: true,
        tls: { mode: "files", keyFile: pair.key, certFile: pair.cert },
        httpLimits: LIMITS,
        ...extra,
      },
      {
        account: newAccount(),
        log: silentLogger,
        directory: { signerOf: async (id) => (id === "demo" ? streamer.address.toLowerCase() : undefined) },
      },
    );
    await relay.start();
    cleanup.push(() => relay.stop());
    const ca = [readFileSync(pair.cert, "utf8")];
    const put = async (o: SignedObject) => {
      const session = await session_(relay, ca);
      const r = await h2(session, putHeaders(o.file, o.att, o.init), o.bytes);
      session.close();
      expect(r.status, r.body).toBe(201);
    };
    await put(await signedObject(streamer, "demo", "init", 0, 1000));
    await put(await signedObject(streamer, "demo", "segment", 0, 5000));
    pushNext = async (seq, size = 5000) => {
      const o = await signedObject(streamer, "demo", "segment", seq, size);
      await put(o);
      return o;
    };
    return { relay, ca };
  }
  let pushNext: (seq: number, size?: number) => Promise<SignedObject | undefined> = async () => undefined;

  async function session_(relay: Relay, ca: string[]): Promise<ClientHttp2Session> {
    const s = h2connect(relay.url, { ca });
    s.on("error", () => {});
    cleanup.push(() => void s.destroy());
    await new Promise<void>((r) => s.once("remoteSettings", () => r()));
    return s;
  }

  function rawTls(relay: Relay, ca: string[], alpn: string): Promise<TLSSocket> {
    return new Promise((resolve, reject) => {
      const port = Number(new URL(relay.url).port);
      const socket = tlsConnect({ host: "127.0.0.1", port, ca, ALPNProtocols: [alpn] }, () =>
        resolve(socket),
      );
      socket.on("error", reject);
      socket.resume(); // whatever the relay answers is read and dropped
      cleanup.push(() => void socket.destroy());
    });
  }

  it("HTTP/1.1 over TLS: a request head sent a byte at a time is cut after headersTimeoutMs", async () => {
    const { relay, ca } = await start();
    const socket = await rawTls(relay, ca, "http/1.1");
    expect(socket.alpnProtocol).toBe("http/1.1");
    socket.write("GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n");
    // A byte every 200 ms keeps the 30 s idle timer from ever firing; only the head deadline cuts it.
    const stop = trickle(socket, `x-slow: ${"a".repeat(500)}`, 200);
    const closed = await closedWithin(socket, CUT_WITHIN_MS);
    stop();
    expect(closed).toBe(true);
    expect(JSON.parse((await healthz(relay.url, ca)).body).ok).toBe(true);
  });

  it("HTTP/1.1 over TLS: a request body sent a byte at a time is cut after requestTimeoutMs", async () => {
    const { relay, ca } = await start();
    const socket = await rawTls(relay, ca, "http/1.1");
    socket.write("PUT /live/demo/seg-9.m4s HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 5000\r\n\r\n");
    const stop = trickle(socket, Buffer.alloc(5000, 1), 200);
    const closed = await closedWithin(socket, CUT_WITHIN_MS);
    stop();
    expect(closed).toBe(true);
  });

  it("HTTP/2: streams opened and never finished are reset after requestTimeoutMs; the session goes on", async () => {
    const { relay, ca } = await start();
    const session = await session_(relay, ca);
    const streams = Array.from({ length: 5 }, () => {
      const s = session.request({ ":method": "POST", ":path": "/live/demo/end" }, { endStream: false });
      s.on("error", () => {});
      s.resume();
      // A byte every 200 ms on every stream: neither the stream's nor the session's idle timer fires.
      const t = setInterval(() => {
        if (!s.destroyed && s.writable) s.write("{");
      }, 200);
      s.once("close", () => clearInterval(t));
      cleanup.push(() => clearInterval(t));
      return s;
    });
    const closed = await Promise.all(streams.map((s) => closedWithin(s, CUT_WITHIN_MS)));
    expect(closed).toEqual([true, true, true, true, true]);
    for (const s of streams) expect(s.rstCode).toBe(constants.NGHTTP2_CANCEL);
    // Only the unfinished streams went: the same session still serves.
    expect((await h2(session, { ":path": "/healthz" })).status).toBe(200);
  });

  it("HTTP/2: a session trickling one never-finished frame, with no stream open, is closed", async () => {
    const { relay, ca } = await start();
    const socket = await rawTls(relay, ca, "h2");
    expect(socket.alpnProtocol).toBe("h2");
    const frameHeader = (length: number, type: number, flags: number, stream: number) => {
      const b = Buffer.alloc(9);
      b.writeUIntBE(length, 0, 3);
      b.writeUInt8(type, 3);
      b.writeUInt8(flags, 4);
      b.writeUInt32BE(stream, 5);
      return b;
    };
    socket.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    socket.write(frameHeader(0, 0x4, 0, 0)); // SETTINGS, empty
    socket.write(frameHeader(0, 0x4, 0x1, 0)); // SETTINGS ACK
    socket.write(frameHeader(16_000, 0x1, 0x4 | 0x1, 1)); // HEADERS of 16000 bytes, sent one at a time
    const stop = trickle(socket, Buffer.alloc(16_000, 0x40), 200);
    const closed = await closedWithin(socket, CUT_WITHIN_MS);
    stop();
    expect(closed).toBe(true);
  });

  it("HTTP/2: a session idle between requests for less than keepAliveTimeoutMs stays usable", async () => {
    const { relay, ca } = await start();
    const session = await session_(relay, ca);
    expect((await h2(session, { ":path": "/healthz" })).status).toBe(200);
    // Longer than the first request's deadline (headersTimeoutMs), shorter than the keep-alive.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(session.closed).toBe(false);
    expect((await h2(session, { ":path": "/healthz" })).status).toBe(200);
  });

  // serve.ts sends a large body apart from its head over HTTP/1.1 + TLS (no copy): it must still arrive whole.
  it("a 1 MiB segment arrives whole with its attestation over HTTP/1.1 and HTTP/2", async () => {
    const { relay, ca } = await start();
    const seg = await pushNext(1, 1024 * 1024);
    const h1 = await new Promise<{ status: number; body: Buffer; att: unknown; length: unknown }>(
      (resolve, reject) => {
        const req = httpsRequest(`${relay.url}/live/demo/seg-1.m4s`, { ca, agent: false }, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              body: Buffer.concat(chunks),
              att: res.headers[HEADER_ATTESTATION],
              length: res.headers["content-length"],
            }),
          );
        });
        req.on("error", reject);
        req.end();
      },
    );
    expect(h1.status).toBe(200);
    expect(h1.length).toBe(String(1024 * 1024));
    expect(h1.att).toBe(encodeAttestationHeader(seg?.att as SegmentAttestation));
    expect(sha256Hex(h1.body)).toBe(seg?.att.sha256);
    const session = await session_(relay, ca);
    const h2answer = await new Promise<Buffer>((resolve, reject) => {
      const s = session.request({ ":path": "/live/demo/seg-1.m4s" });
      const chunks: Buffer[] = [];
      s.on("data", (c: Buffer) => chunks.push(c));
      s.on("end", () => resolve(Buffer.concat(chunks)));
      s.on("error", reject);
    });
    expect(sha256Hex(h2answer)).toBe(seg?.att.sha256);
  });

  it("long polls and blocking segment requests longer than every request deadline are answered (h2 and HTTP/1.1)", async () => {
    const { relay, ca } = await start({ windowWaitMs: 3_000, segmentWaitMs: 6_000 });
    const session = await session_(relay, ca);
    // The window long-poll waits its full 3 s with nothing new (2x requestTimeoutMs): answered, not cut.
    const poll = await h2(session, { ":path": "/live/demo/window.json?after=0&wait=1" });
    expect(poll.status).toBe(200);
    const h1poll = await new Promise<number>((resolve, reject) => {
      const req = httpsRequest(
        `${relay.url}/live/demo/window.json?after=0&wait=1`,
        { ca, agent: false },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        },
      );
      req.on("error", reject);
      req.end();
    });
    expect(h1poll).toBe(200);
    // A blocking request for the next segment, answered when it arrives 3 s later (an LL-HLS-style reload).
    const blocked = h2(session, { ":path": "/live/demo/seg-1.m4s" });
    await new Promise((r) => setTimeout(r, 3_000));
    await pushNext(1);
    const seg = await blocked;
    expect(seg.status).toBe(200);
    expect(seg.rstCode).toBe(0);
  });
});
