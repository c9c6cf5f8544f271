import { copyFileSync, readFileSync } from "node:fs";
import { createServer, request as httpRequest } from "node:http";
import { constants, connect as h2connect } from "node:http2";
import { join } from "node:path";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import { createRelay, type Relay } from "@streamrp2p/relay";
import { silentLogger } from "@streamrp2p/service";
import { afterEach, describe, expect, it } from "vitest";
import { newAccount } from "../../../test/support/fixtures.ts";
import { freePort } from "../../../test/support/pebble.ts";
import { healthz, selfSigned } from "../../../test/support/tls-fixtures.ts";
import { tempDir, waitUntil } from "../../../test/support/tools.ts";

/** A raw GET with the request target sent byte for byte (fetch would normalize it). */
function rawGet(
  port: number,
  target: string,
  host = "127.0.0.1",
): Promise<{ status: number; location?: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: "127.0.0.1", port, path: target, headers: { host }, agent: false },
      (res) => {
        res.resume();
        resolve({
          status: res.statusCode ?? 0,
          ...(res.headers.location ? { location: res.headers.location } : {}),
        });
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** An HPACK integer with an `n`-bit prefix (RFC 7541 5.1), `first` holding the bits above it. */
function hpackInt(value: number, n: number, first = 0): number[] {
  const max = 2 ** n - 1;
  if (value < max) return [first | value];
  const out = [first | max];
  let v = value - max;
  for (; v >= 128; v = Math.floor(v / 128)) out.push((v % 128) + 128);
  out.push(v);
  return out;
}

/** An HPACK string literal, not Huffman-coded. */
const hpackString = (s: string) => [...hpackInt(s.length, 7), ...Buffer.from(s, "latin1")];

/** A GET for `path` with `extra` headers as one HPACK block: literals without indexing. */
function hpackRequest(path: string, extra: Record<string, string>): Buffer {
  const bytes = [0x82, 0x87]; // :method GET, :scheme https (static table)
  bytes.push(...hpackInt(4, 4), ...hpackString(path)); // :path, name from the static table
  bytes.push(...hpackInt(1, 4), ...hpackString("127.0.0.1")); // :authority
  for (const [k, v] of Object.entries(extra)) bytes.push(0x00, ...hpackString(k), ...hpackString(v));
  return Buffer.from(bytes);
}

function h2Frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head.writeUInt8(type, 3);
  head.writeUInt8(flags, 4);
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

const components = () => ({
  account: newAccount(),
  log: silentLogger,
  directory: { signerOf: async () => undefined },
});

/** Resolves when the socket closes, or after `ms` with false. */
function closedWithin(socket: { once(e: "close", f: () => void): unknown }, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    socket.once("close", () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

describe("relay HTTPS under attack", () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  /**
   * An ACME relay whose store already holds a valid certificate for
   * 127.0.0.1: it starts its challenge listener without talking to the CA
   * (the directory URL points nowhere).
   */
  async function acmeRelayFromStore(): Promise<{ relay: Relay; challengePort: number; ca: string[] }> {
    const dir = tempDir("srp-tls-rv-");
    const pair = selfSigned(dir, "a");
    copyFileSync(pair.key, join(dir, "key.pem"));
    copyFileSync(pair.cert, join(dir, "cert.pem"));
    const challengePort = await freePort();
    const relay = createRelay(
      {
        tls: {
          mode: "acme",
          directoryUrl: "http://127.0.0.1:9/directory",
          identifier: "127.0.0.1",
          dir,
          challengeHost: "127.0.0.1",
          challengePort,
        },
      },
      components(),
    );
    await relay.start();
    cleanup.push(() => relay.stop());
    return { relay, challengePort, ca: [readFileSync(pair.cert, "utf8")] };
  }

  // FINDING (MEDIUM): open redirect. "/.//evil.example/x" parses to pathname "//evil.example/x";
  // relay.ts resolves it against the relay URL as a scheme-relative reference.
  it("the challenge listener never redirects off the relay (dot-segment + //host)", async () => {
    const { relay, challengePort } = await acmeRelayFromStore();
    for (const target of ["/.//evil.example/x", "/a/..//evil.example/x", "/.//evil.example"]) {
      const r = await rawGet(challengePort, target);
      expect(r.status).toBe(308);
      expect(r.location?.startsWith(`${relay.url}/`), `${target} -> ${r.location}`).toBe(true);
    }
  });

  it("held: challenge tokens, absolute-URI targets, Host headers and odd paths", async () => {
    const { relay, challengePort, ca } = await acmeRelayFromStore();
    for (const token of ["nope", "..%2F..%2Fkey.pem", "..%2Faccount.key", "a".repeat(8000)])
      expect((await rawGet(challengePort, `/.well-known/acme-challenge/${token}`)).status, token).toBe(404);
    expect((await rawGet(challengePort, "/.well-known/acme-challenge/%ff")).status).toBe(400);
    for (const [target, host] of [
      ["http://evil.example/x", "127.0.0.1"],
      ["//evil.example/x", "127.0.0.1"],
      ["/x", "evil.example"],
      ["/\\evil.example/x", "127.0.0.1"],
    ] as const) {
      const r = await rawGet(challengePort, target, host);
      expect(r.status, target).toBe(308);
      expect(r.location?.startsWith(`${relay.url}/`), `${target} -> ${r.location}`).toBe(true);
    }
    // A request head over the 16 KiB cap: 431, the listener goes on.
    expect((await rawGet(challengePort, `/${"a".repeat(20_000)}`)).status).toBe(431);
    expect(JSON.parse((await healthz(relay.url, ca)).body).ok).toBe(true);
  });

  // Slow and never-finishing clients (HTTP/1.1 over TLS, h2 sessions and streams): https-slow-clients.test.ts.
  it("held: rapid reset, oversized h2 headers, and the relay goes on serving", async () => {
    const dir = tempDir("srp-tls-rv-");
    const pair = selfSigned(dir, "a");
    const relay = createRelay(
      { tls: { mode: "files", keyFile: pair.key, certFile: pair.cert } },
      components(),
    );
    await relay.start();
    cleanup.push(() => relay.stop());
    const ca = [readFileSync(pair.cert, "utf8")];
    // Rapid reset (CVE-2023-44487): open and cancel streams as fast as the socket takes them.
    const session = h2connect(relay.url, { ca });
    session.on("error", () => {});
    await new Promise<void>((r) => session.once("remoteSettings", () => r()));
    for (let i = 0; i < 20_000 && !session.destroyed; i++) {
      const s = session.request({ ":path": "/healthz" });
      s.on("error", () => {});
      s.close(8); // CANCEL
    }
    await closedWithin(session, 2_000);
    session.destroy();
    // Headers over maxHeaderListSize: the stream fails, not the process.
    const big = h2connect(relay.url, { ca });
    big.on("error", () => {});
    const outcome = await new Promise<string>((resolve) => {
      const s = big.request({ ":path": "/healthz", "x-big": "a".repeat(200_000) });
      s.on("response", (h) => resolve(String(h[":status"])));
      s.on("error", (e: Error) => resolve(`error ${e.message}`));
      s.on("close", () => resolve("closed"));
    });
    big.destroy();
    expect(outcome).not.toBe("200");
    expect(outcome).not.toBe("500");
    expect(JSON.parse((await healthz(relay.url, ca)).body).ok).toBe(true);
  });

  it("h2 header lists over maxHeaderBytes or MAX_H2_HEADER_PAIRS are refused; the session and the relay go on", async () => {
    const dir = tempDir("srp-tls-rv-");
    const pair = selfSigned(dir, "a");
    const relay = createRelay(
      { tls: { mode: "files", keyFile: pair.key, certFile: pair.cert } },
      components(),
    );
    await relay.start();
    cleanup.push(() => relay.stop());
    const ca = [readFileSync(pair.cert, "utf8")];
    const session = h2connect(relay.url, { ca });
    session.on("error", () => {});
    cleanup.push(async () => void session.destroy());
    const ask = (headers: Record<string, string>) =>
      new Promise<{ status: number; body: string; rstCode: number }>((resolve) => {
        const s = session.request({ ":path": "/healthz", ...headers });
        let status = 0;
        let body = "";
        s.on("response", (h) => {
          status = Number(h[":status"]);
        });
        s.setEncoding("utf8");
        s.on("data", (d: string) => {
          body += d;
        });
        s.on("error", () => {});
        s.on("close", () => resolve({ status, body, rstCode: s.rstCode ?? 0 }));
      });
    // Refused either way: 431 from the relay, or a reset once nghttp2 holds the peer to our SETTINGS.
    const refused = (a: { status: number; rstCode: number }) =>
      a.status === 431 || (a.status === 0 && a.rstCode === constants.NGHTTP2_ENHANCE_YOUR_CALM);
    const big = await ask({ "x-big": "a".repeat(40_000) });
    expect(refused(big), JSON.stringify(big)).toBe(true);
    // Split over many headers, each small: the list is what counts.
    const many = await ask(
      Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`x-h${i}`, "b".repeat(400)])),
    );
    expect(refused(many), JSON.stringify(many)).toBe(true);
    // More entries than MAX_H2_HEADER_PAIRS (64), each tiny.
    const pairs = await ask(Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`x-p${i}`, "c"])));
    expect(refused(pairs), JSON.stringify(pairs)).toBe(true);
    // Just under the cap is still a normal request.
    expect((await ask({ "x-ok": "d".repeat(10_000) })).status).toBe(200);
    expect(JSON.parse((await healthz(relay.url, ca)).body).ok).toBe(true);
  });

  it("h2: a peer that never acknowledges our SETTINGS still cannot send a header list over maxHeaderBytes", async () => {
    const dir = tempDir("srp-tls-rv-");
    const pair = selfSigned(dir, "a");
    const relay = createRelay(
      { tls: { mode: "files", keyFile: pair.key, certFile: pair.cert } },
      components(),
    );
    await relay.start();
    cleanup.push(() => relay.stop());
    const ca = [readFileSync(pair.cert, "utf8")];
    // nghttp2 applies our advertised maxHeaderListSize only once the peer ACKs it; this peer never does.
    const socket = await new Promise<TLSSocket>((resolve, reject) => {
      const s = tlsConnect(
        { host: "127.0.0.1", port: Number(new URL(relay.url).port), ca, ALPNProtocols: ["h2"] },
        () => resolve(s),
      );
      s.on("error", reject);
    });
    cleanup.push(async () => void socket.destroy());
    let received = Buffer.alloc(0);
    socket.on("data", (d: Buffer) => {
      received = Buffer.concat([received, d]);
    });
    const block = hpackRequest("/healthz", { "x-big": "a".repeat(40_000) });
    const frames = [Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), h2Frame(0x4, 0, 0, Buffer.alloc(0))];
    for (let at = 0; at < block.length; at += 16_384) {
      const last = at + 16_384 >= block.length;
      const part = block.subarray(at, at + 16_384);
      // HEADERS (END_STREAM), then CONTINUATIONs; END_HEADERS on the last.
      frames.push(
        at === 0 ? h2Frame(0x1, 0x1 | (last ? 0x4 : 0), 1, part) : h2Frame(0x9, last ? 0x4 : 0, 1, part),
      );
    }
    socket.write(Buffer.concat(frames));
    const answer = await waitUntil("an answer on stream 1", () => {
      const text = received.toString("latin1");
      if (text.includes("HEADERS_TOO_LARGE")) return "refused";
      if (text.includes('"ok":true')) return "served";
      return undefined;
    });
    expect(answer).toBe("refused");
    expect(JSON.parse((await healthz(relay.url, ca)).body).ok).toBe(true);
  });

  it("held: without tls the relay is plain HTTP with no TLS status", async () => {
    const relay = createRelay({}, components());
    await relay.start();
    cleanup.push(() => relay.stop());
    expect(relay.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const h = (await (await fetch(`${relay.url}/healthz`)).json()) as Record<string, unknown>;
    expect(h.ok).toBe(true);
    expect(h.tls).toBeUndefined();
  });

  // FINDING (MEDIUM): validateCertificate does not try what node:tls will do with the pair. A
  // renewed pair TLS refuses (an RSA-512 key: "ee key too small"; a broken chain block) is
  // installed as current and counted as a renewal, setSecureContext throws, the old certificate
  // goes on being served, and since the fingerprint now matches, the files are never retried:
  // /healthz reports a certificate (and expiry) nobody is served.
  it("files: a renewal node:tls refuses is not reported as the served certificate", async () => {
    const dir = tempDir("srp-tls-rv-");
    const a = selfSigned(dir, "a");
    const weak = selfSigned(dir, "weak", ["rsa:512"]);
    const live = { key: join(dir, "live.key"), cert: join(dir, "live.pem") };
    copyFileSync(a.key, live.key);
    copyFileSync(a.cert, live.cert);
    const relay = createRelay(
      { tls: { mode: "files", keyFile: live.key, certFile: live.cert, checkIntervalMs: 100 } },
      components(),
    );
    await relay.start();
    cleanup.push(() => relay.stop());
    const ca = [readFileSync(a.cert, "utf8")];
    const before = await healthz(relay.url, ca);
    copyFileSync(weak.key, live.key);
    copyFileSync(weak.cert, live.cert);
    const h = await waitUntil("the reload attempt", async () => {
      const r = await healthz(relay.url, ca);
      const tls = (JSON.parse(r.body) as { tls: { failures: number; renewals: number; fingerprint: string } })
        .tls;
      return tls.failures + tls.renewals >= 1 ? { served: r.fingerprint, tls } : undefined;
    });
    expect(h.served).toBe(before.fingerprint); // the weak pair is not served (true today)
    expect(h.tls.fingerprint).toBe(h.served); // but /healthz says it is
    expect(h.tls.renewals).toBe(0);
  });

  /** True when `port` on 127.0.0.1 can be bound now (and is released again). */
  const bindable = (port: number) =>
    new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once("error", () => resolve(false));
      s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
    });

  it("a failed HTTPS start releases the challenge port and the rest; a retry on the same ports starts", async () => {
    const dir = tempDir("srp-tls-rv-");
    const pair = selfSigned(dir, "a");
    copyFileSync(pair.key, join(dir, "key.pem"));
    copyFileSync(pair.cert, join(dir, "cert.pem"));
    const [challengePort, port] = [await freePort(), await freePort()];
    // Someone else holds the HTTPS port: the start fails after the challenge listener and the certificate.
    const squatter = createServer();
    await new Promise<void>((r) => squatter.listen(port, "127.0.0.1", () => r()));
    const relay = createRelay(
      {
        port,
        tls: {
          mode: "acme",
          directoryUrl: "http://127.0.0.1:9/directory",
          identifier: "127.0.0.1",
          dir,
          challengeHost: "127.0.0.1",
          challengePort,
        },
      },
      components(),
    );
    cleanup.push(() => relay.stop());
    await expect(relay.start()).rejects.toMatchObject({ code: "EADDRINUSE" });
    expect(await bindable(challengePort)).toBe(true);
    await new Promise<void>((r) => squatter.close(() => r()));
    // The same relay, the same ports: it starts and serves both.
    await relay.start();
    expect(relay.url).toBe(`https://127.0.0.1:${port}`);
    expect(JSON.parse((await healthz(relay.url, [readFileSync(pair.cert, "utf8")])).body).ok).toBe(true);
    expect((await rawGet(challengePort, "/.well-known/acme-challenge/nope")).status).toBe(404);
  });

  it("held: a start that gets no certificate (CA down) releases the challenge port", async () => {
    const challengePort = await freePort();
    const relay = createRelay(
      {
        tls: {
          mode: "acme",
          directoryUrl: `http://127.0.0.1:${await freePort()}/directory`, // nothing listens
          identifier: "127.0.0.1",
          dir: tempDir("srp-tls-rv-"),
          challengeHost: "127.0.0.1",
          challengePort,
          startAttempts: 1,
          requestTimeoutMs: 1_000,
        },
      },
      components(),
    );
    cleanup.push(() => relay.stop());
    await expect(relay.start()).rejects.toMatchObject({ code: "ACME_FAILED" });
    expect(await bindable(challengePort)).toBe(true);
  });

  // HTTPS with workers > 1 (refused at creation until the workers held the certificate): https-workers.test.ts.
});
