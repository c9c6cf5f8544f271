import { statSync, writeFileSync } from "node:fs";
import { createServer, request as httpRequest, type Server } from "node:http";
import { connect } from "node:http2";
import { request } from "node:https";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { createRelay, type Relay, type RelayTls } from "@streamrp2p/relay";
import { silentLogger } from "@streamrp2p/service";
import { afterEach, describe, expect, it } from "vitest";
import { newAccount } from "../../../test/support/fixtures.ts";
import { freePort, type PebbleServer, startPebble } from "../../../test/support/pebble.ts";
import { tempDir, waitUntil } from "../../../test/support/tools.ts";

/** One HTTPS/1.1 request on a fresh connection: status, body, and the leaf the server presented. */
function httpsGet(url: string, ca: string): Promise<{ status: number; body: string; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, agent: false, timeout: 5_000 }, (res) => {
      const socket = res.socket as TLSSocket;
      const fingerprint = socket.getPeerCertificate().fingerprint256.replaceAll(":", "").toLowerCase();
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        body += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, fingerprint }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

/** One HTTP/2 request: status, body and the ALPN protocol negotiated. */
function h2Get(
  origin: string,
  path: string,
  ca: string,
): Promise<{ status: number; body: string; alpn: string }> {
  return new Promise((resolve, reject) => {
    const session = connect(origin, { ca });
    session.on("error", reject);
    const stream = session.request({ ":path": path });
    let status = 0;
    let body = "";
    stream.on("response", (h) => {
      status = Number(h[":status"]);
    });
    stream.setEncoding("utf8");
    stream.on("data", (d: string) => {
      body += d;
    });
    stream.on("end", () => {
      const alpn = String((session.socket as TLSSocket).alpnProtocol);
      session.close();
      resolve({ status, body, alpn });
    });
    stream.on("error", reject);
  });
}

/** A plain HTTP GET (the challenge listener). */
async function plainGet(url: string): Promise<{ status: number; body: string; location: string | null }> {
  const res = await fetch(url, { redirect: "manual" });
  return { status: res.status, body: await res.text(), location: res.headers.get("location") };
}

interface Health {
  tls: {
    fingerprint: string;
    renewals: number;
    failures: number;
    consecutiveFailures: number;
    nextAttemptAt?: string;
    renewAt: string;
    notAfter: string;
    lastError?: string;
  };
}

describe("relay HTTPS over ACME (Pebble)", () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  /** A Pebble whose http-01 validation reaches the relay's challenge listener on `challengePort`. */
  async function pebble(validitySeconds?: number) {
    const challengePort = await freePort();
    const ca = await startPebble({
      httpPort: challengePort,
      ...(validitySeconds ? { validitySeconds } : {}),
    });
    cleanup.push(() => ca.kill());
    return { ca, challengePort };
  }

  async function startRelay(
    ca: PebbleServer,
    challengePort: number,
    extra: Partial<Extract<RelayTls, { mode: "acme" }>> = {},
    now: () => number = Date.now,
  ): Promise<{ relay: Relay; dir: string }> {
    const dir = extra.dir ?? tempDir("srp-tls-");
    const relay = createRelay(
      {
        ingest: true,
        host: extra.identifier ?? "127.0.0.1",
        tls: {
          mode: "acme",
          directoryUrl: ca.directoryUrl,
          caPem: ca.listenerCaPem,
          identifier: "127.0.0.1",
          contact: "mailto:ops@example.com",
          dir,
          challengeHost: "127.0.0.1",
          challengePort,
          checkIntervalMs: 100,
          retryMinMs: 400,
          retryMaxMs: 60_000,
          requestTimeoutMs: 1_000,
          pollMinMs: 100,
          ...extra,
        },
      },
      { account: newAccount(), log: silentLogger, directory: { signerOf: async () => undefined }, now },
    );
    await relay.start();
    cleanup.push(() => relay.stop());
    return { relay, dir };
  }

  const health = async (relay: Relay, root: string) =>
    JSON.parse((await httpsGet(`${relay.url}/healthz`, root)).body) as Health;

  it("obtains an IP certificate over http-01, stores it 0600 and serves HTTP/2 and HTTP/1.1 with it", async () => {
    const { ca, challengePort } = await pebble();
    const { relay, dir } = await startRelay(ca, challengePort);
    expect(relay.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const root = await ca.root();
    // Pebble's root is trusted here and nowhere else: a relay with a self-made certificate would fail these.
    const h1 = await httpsGet(`${relay.url}/healthz`, root);
    expect(h1.status).toBe(200);
    const h = JSON.parse(h1.body) as Health;
    expect(h.tls.fingerprint).toBe(h1.fingerprint);
    expect(h.tls.renewals).toBe(0);
    const h2 = await h2Get(relay.url, "/healthz", root);
    expect(h2).toMatchObject({ status: 200, alpn: "h2" });
    for (const f of ["account.key", "key.pem", "cert.pem"])
      expect(statSync(join(dir, f)).mode & 0o777, f).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const metrics = (await httpsGet(`${relay.url}/metrics`, root)).body;
    const expiry = Number(/^srp_relay_tls_cert_expiry_seconds\{[^}]*\} (\S+)$/m.exec(metrics)?.[1]);
    expect(expiry).toBeGreaterThan(3600);
  });

  it("answers a challenge for an unknown token with 404 and redirects other plain requests to HTTPS", async () => {
    const { ca, challengePort } = await pebble();
    const { relay } = await startRelay(ca, challengePort);
    const base = `http://127.0.0.1:${challengePort}`;
    for (const token of ["nope", "a".repeat(4000), "%00", "..%2F..%2Fetc%2Fpasswd"]) {
      const r = await plainGet(`${base}/.well-known/acme-challenge/${token}`);
      expect([400, 404, 431]).toContain(r.status);
    }
    const r = await plainGet(`${base}/live/x/index.m3u8?a=1`);
    expect(r.status).toBe(308);
    expect(r.location).toBe(`${relay.url}/live/x/index.m3u8?a=1`);
    // A Host header is not where the redirect goes.
    const evil = await new Promise<string | undefined>((resolve, reject) => {
      const req = httpRequest(`${base}/x`, { headers: { host: "evil.example" } }, (res) => {
        res.resume();
        resolve(res.headers.location);
      });
      req.on("error", reject);
      req.end();
    });
    expect(evil?.startsWith(relay.url)).toBe(true);
    expect((await httpsGet(`${relay.url}/healthz`, await ca.root())).status).toBe(200);
  });

  it("renews when the injected clock reaches renewAt, and new connections get the new certificate", async () => {
    const { ca, challengePort } = await pebble(3600);
    let frozen: number | undefined;
    const { relay } = await startRelay(ca, challengePort, {}, () => frozen ?? Date.now());
    const root = await ca.root();
    const before = await health(relay, root);
    expect(before.tls.renewals).toBe(0);
    const first = (await httpsGet(`${relay.url}/healthz`, root)).fingerprint;
    // Just past the renewal point of the first certificate (a third of 1 h before expiry), not of its successor.
    frozen = Date.parse(before.tls.renewAt) + 1_000;
    const after = await waitUntil("renewal", async () => {
      const h = await health(relay, root);
      return h.tls.renewals === 1 ? h : undefined;
    });
    expect(after.tls.fingerprint).not.toBe(first);
    expect((await httpsGet(`${relay.url}/healthz`, root)).fingerprint).toBe(after.tls.fingerprint);
    const metrics = (await httpsGet(`${relay.url}/metrics`, root)).body;
    expect(metrics).toMatch(/^srp_relay_tls_renewals_total\{[^}]*\} 1$/m);
  });

  for (const outage of ["stop", "kill", "freeze"] as const) {
    it(`keeps serving its certificate and backs off while the CA is down (${outage})`, async () => {
      const { ca, challengePort } = await pebble(3600);
      let frozen: number | undefined;
      const { relay } = await startRelay(ca, challengePort, {}, () => frozen ?? Date.now());
      const root = await ca.root();
      const before = await health(relay, root);
      if (outage === "stop") await ca.stop();
      else if (outage === "kill") await ca.kill();
      else ca.freeze();
      frozen = Date.parse(before.tls.renewAt) + 1_000;
      const failed = await waitUntil("a failed renewal", async () => {
        const h = await health(relay, root);
        return h.tls.failures >= 1 ? h : undefined;
      });
      expect(failed.tls.fingerprint).toBe(before.tls.fingerprint);
      expect(failed.tls.lastError).toBeDefined();
      expect(Date.parse(failed.tls.nextAttemptAt ?? "")).toBe(frozen + 400);
      // The clock stands still: no retry before nextAttemptAt, however often the check runs.
      await new Promise((r) => setTimeout(r, 1_500));
      expect((await health(relay, root)).tls.failures).toBe(1);
      // Past it: one more attempt, and the wait doubles.
      frozen += 400;
      const second = await waitUntil("a second failure", async () => {
        const h = await health(relay, root);
        return h.tls.failures >= 2 ? h : undefined;
      });
      expect(Date.parse(second.tls.nextAttemptAt ?? "") - frozen).toBe(800);
      const served = await httpsGet(`${relay.url}/healthz`, root);
      expect(served.status).toBe(200);
      expect(served.fingerprint).toBe(before.tls.fingerprint);
      if (outage === "freeze") {
        ca.thaw(); // the CA is back: the next attempt renews
        frozen += 800;
        const renewed = await waitUntil("renewal after the CA thawed", async () => {
          const h = await health(relay, root);
          return h.tls.renewals === 1 ? h : undefined;
        });
        expect(renewed.tls.consecutiveFailures).toBe(0);
        expect(renewed.tls.fingerprint).not.toBe(before.tls.fingerprint);
      }
    });
  }

  it("replaces a malformed, a foreign or an expired certificate on disk at start", async () => {
    const { ca, challengePort } = await pebble(4);
    const dir = tempDir("srp-tls-");
    writeFileSync(join(dir, "key.pem"), "-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n");
    writeFileSync(join(dir, "cert.pem"), "not a certificate");
    const a = await startRelay(ca, challengePort, { dir, renewBeforeFraction: 0.01 });
    const root = await ca.root();
    const first = await health(a.relay, root);
    await a.relay.stop();
    // Pebble's 4-second certificate has expired by the next start: a new one is obtained.
    await new Promise((r) => setTimeout(r, 4_500));
    const b = await startRelay(ca, challengePort, { dir, renewBeforeFraction: 0.01 });
    const second = await health(b.relay, root);
    expect(second.tls.fingerprint).not.toBe(first.tls.fingerprint);
    await b.relay.stop();
    // A certificate for another address than the configured one is not served either.
    const c = await startRelay(ca, challengePort, {
      dir,
      identifier: "127.0.0.2",
      challengeHost: "127.0.0.2",
    });
    expect(c.relay.url).toMatch(/^https:\/\/127\.0\.0\.2:/);
    const third = await health(c.relay, root);
    expect(third.tls.fingerprint).not.toBe(second.tls.fingerprint);
  });

  for (const outage of ["stop", "kill", "freeze"] as const) {
    it(`a start with no certificate and the CA down (${outage}) fails after startAttempts bounded tries and releases the challenge port`, async () => {
      const { ca, challengePort } = await pebble();
      if (outage === "stop") await ca.stop();
      else if (outage === "kill") await ca.kill();
      else ca.freeze(); // connects are accepted by the kernel; nothing ever answers
      const relay = createRelay(
        {
          tls: {
            mode: "acme",
            directoryUrl: ca.directoryUrl,
            caPem: ca.listenerCaPem,
            identifier: "127.0.0.1",
            dir: tempDir("srp-tls-"),
            challengeHost: "127.0.0.1",
            challengePort,
            startAttempts: 2,
            retryMinMs: 100,
            requestTimeoutMs: 1_000,
          },
        },
        { account: newAccount(), log: silentLogger, directory: { signerOf: async () => undefined } },
      );
      cleanup.push(() => relay.stop());
      const failed = await relay.start().then(
        () => undefined,
        (err: unknown) => err as { code?: string; message?: string },
      );
      expect(failed?.code).toBe("ACME_FAILED");
      expect(failed?.message).toMatch(outage === "freeze" ? /took over 1000 ms/ : /request to the CA failed/);
      const rebind = createServer();
      await new Promise<void>((resolve, reject) => {
        rebind.once("error", reject);
        rebind.listen(challengePort, "127.0.0.1", () => resolve());
      });
      await new Promise<void>((r) => rebind.close(() => r()));
      if (outage === "freeze") ca.thaw();
    });
  }

  it("fails to start with ACME_FAILED, without crashing, when the CA answers garbage", async () => {
    const garbage: Server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"newNonce": 42, "newAccount": ["x"], "nonsense": true');
    });
    await new Promise<void>((r) => garbage.listen(0, "127.0.0.1", () => r()));
    cleanup.push(() => new Promise((r) => garbage.close(() => r())));
    const port = (garbage.address() as { port: number }).port;
    const relay = createRelay(
      {
        tls: {
          mode: "acme",
          directoryUrl: `http://127.0.0.1:${port}/dir`,
          identifier: "127.0.0.1",
          dir: tempDir("srp-tls-"),
          challengeHost: "127.0.0.1",
          challengePort: await freePort(),
          startAttempts: 2,
          retryMinMs: 50,
          requestTimeoutMs: 1_000,
        },
      },
      { account: newAccount(), log: silentLogger, directory: { signerOf: async () => undefined } },
    );
    await expect(relay.start()).rejects.toMatchObject({ code: "ACME_FAILED" });
    await relay.stop();
  });
});
