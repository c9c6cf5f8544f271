import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { connect as h2connect } from "node:http2";
import { connect as tcpConnect } from "node:net";
import { join } from "node:path";
import { createRelay } from "@streamrp2p/relay";
import { silentLogger } from "@streamrp2p/service";
import { describe, expect, it } from "vitest";
import { newAccount } from "../../../test/support/fixtures.ts";
import { healthz, selfSigned } from "../../../test/support/tls-fixtures.ts";
import { tempDir, waitUntil } from "../../../test/support/tools.ts";

describe("relay HTTPS from files (an operator's certbot)", () => {
  it("serves the files, swaps in changed ones, and keeps the old ones when the new are broken", async () => {
    const dir = tempDir("srp-tls-files-");
    const a = selfSigned(dir, "a");
    const b = selfSigned(dir, "b");
    const live = { key: join(dir, "live.key"), cert: join(dir, "live.pem") };
    copyFileSync(a.key, live.key);
    copyFileSync(a.cert, live.cert);
    const relay = createRelay(
      { tls: { mode: "files", keyFile: live.key, certFile: live.cert, checkIntervalMs: 100 } },
      { account: newAccount(), log: silentLogger, directory: { signerOf: async () => undefined } },
    );
    await relay.start();
    try {
      const ca = [readFileSync(a.cert, "utf8"), readFileSync(b.cert, "utf8")];
      const first = await healthz(relay.url, ca);
      expect(relay.url).toMatch(/^https:/);
      // A half-written renewal (garbage): counted as a failure, the old certificate stays.
      writeFileSync(live.cert, "garbage");
      await waitUntil("a failed reload", async () => {
        const h = JSON.parse((await healthz(relay.url, ca)).body) as { tls: { failures: number } };
        return h.tls.failures >= 1 ? true : undefined;
      });
      expect((await healthz(relay.url, ca)).fingerprint).toBe(first.fingerprint);
      // The renewed pair: served to new connections.
      copyFileSync(b.key, live.key);
      copyFileSync(b.cert, live.cert);
      const swapped = await waitUntil("the new certificate", async () => {
        const h = await healthz(relay.url, ca);
        return h.fingerprint !== first.fingerprint ? h : undefined;
      });
      expect(JSON.parse(swapped.body).tls).toMatchObject({ renewals: 1, fingerprint: swapped.fingerprint });
    } finally {
      await relay.stop();
    }
  });

  it("survives what clients send the TLS port: silence, plaintext, a bad h2 path", async () => {
    const dir = tempDir("srp-tls-attack-");
    const pair = selfSigned(dir, "a");
    const relay = createRelay(
      {
        tls: { mode: "files", keyFile: pair.key, certFile: pair.cert },
        httpLimits: { headersTimeoutMs: 500 },
      },
      { account: newAccount(), log: silentLogger, directory: { signerOf: async () => undefined } },
    );
    await relay.start();
    try {
      const ca = [readFileSync(pair.cert, "utf8")];
      const port = Number(new URL(relay.url).port);
      // A client that opens TCP and never starts the handshake is cut (handshake bounded by headersTimeoutMs).
      const silent = tcpConnect(port, "127.0.0.1");
      let silentClosed = false;
      silent.on("close", () => {
        silentClosed = true;
      });
      silent.on("error", () => {});
      await waitUntil(
        "the silent connection to be closed",
        () => (silentClosed ? true : undefined),
        10_000,
        50,
      );
      // Plain HTTP to the TLS port: the connection is dropped, the process goes on.
      const plain = tcpConnect(port, "127.0.0.1", () =>
        plain.write("GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n"),
      );
      plain.on("error", () => {});
      await new Promise<void>((r) => plain.on("close", () => r()));
      // An h2 request whose path percent-encoding is broken: a 400, not an exception.
      const status = await new Promise<number>((resolve, reject) => {
        const session = h2connect(relay.url, { ca });
        session.on("error", reject);
        const stream = session.request({ ":path": "/live/%zz/index.m3u8" });
        stream.on("response", (h) => {
          resolve(Number(h[":status"]));
          session.close();
        });
        stream.on("error", reject);
        stream.end();
      });
      expect(status).toBe(400);
      expect(JSON.parse((await healthz(relay.url, ca)).body).ok).toBe(true);
    } finally {
      await relay.stop();
    }
  });
});
