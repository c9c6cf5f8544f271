import { execFileSync } from "node:child_process";
import { createHash, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { createServer as createHttpsServer, type Server } from "node:https";
import { join } from "node:path";
import { rootCertificates } from "node:tls";
import type { RelayOptions } from "@streamrp2p/relay";
import type { Browser, Page } from "playwright-core";
import { Agent, type Dispatcher, getGlobalDispatcher, setGlobalDispatcher } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, openWatchPage, pageStats, screenshot } from "../support/browser.ts";
import { type LiveTestNetwork, startLiveTestNetwork } from "../support/live-network.ts";
import { freePort, type PebbleServer, startPebble } from "../support/pebble.ts";
import { tempDir, waitUntil } from "../support/tools.ts";

/** Chromium's --ignore-certificate-errors-spki-list form of a certificate: base64 SHA-256 of its public key (SPKI DER). */
function spkiHash(pem: string): string {
  const der = new X509Certificate(pem).publicKey.export({ type: "spki", format: "der" });
  return createHash("sha256").update(der).digest("base64");
}

/**
 * The watch page over HTTPS: a TLS front on 127.0.0.1 (its own self-signed
 * certificate) passing every request to the coordinator's plain HTTP.
 */
async function httpsFront(
  coordinatorUrl: string,
  dir: string,
): Promise<{ server: Server; url: string; pem: string }> {
  const key = join(dir, "front.key");
  const cert = join(dir, "front.pem");
  execFileSync(
    "openssl",
    [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
      ...["-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=watch front"],
      ...["-addext", "subjectAltName=IP:127.0.0.1"],
    ],
    { stdio: "pipe" },
  );
  const target = new URL(coordinatorUrl);
  const server = createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
    const up = httpRequest(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
  return { server, url: `https://127.0.0.1:${port}`, pem: readFileSync(cert, "utf8") };
}

describe("player on an HTTPS page, playing through HTTPS relays with Pebble certificates", () => {
  let ca: PebbleServer;
  let live: LiveTestNetwork;
  let front: Awaited<ReturnType<typeof httpsFront>>;
  let browser: Browser;
  let page: Page;
  let previous: Dispatcher;
  const requested: string[] = [];
  const failed: string[] = [];
  const mixed: string[] = [];
  const relayDirs = [1, 2, 3].map(() => tempDir("srp-https-relay-"));

  beforeAll(async () => {
    const challengePort = await freePort();
    ca = await startPebble({ httpPort: challengePort });
    // This test process (coordinator, origin, relays in-process) trusts Pebble's root for node URLs,
    // as a relay trusts Let's Encrypt's through the system store.
    previous = getGlobalDispatcher();
    setGlobalDispatcher(new Agent({ connect: { ca: [...rootCertificates, await ca.root()] } }));
    // Three relays, each on its own loopback address with a certificate for that IP from Pebble;
    // Pebble's validation reaches each one's http-01 listener on that address and `challengePort`.
    const relayOptions: Array<Partial<RelayOptions>> = relayDirs.map((dir, i) => ({
      host: `127.0.0.${i + 1}`,
      tls: {
        mode: "acme",
        directoryUrl: ca.directoryUrl,
        caPem: ca.listenerCaPem,
        identifier: `127.0.0.${i + 1}`,
        dir,
        challengeHost: `127.0.0.${i + 1}`,
        challengePort,
        pollMinMs: 100,
      },
    }));
    live = await startLiveTestNetwork("browser-https", { relayOptions });
    front = await httpsFront(live.net.coordinator.url, tempDir("srp-https-front-"));
    // Chromium trusts exactly these keys (the relays' issued keys and the front's), nothing else:
    // an HTTP relay URL or another certificate would show up below as a request or a failure.
    const spki = [...relayDirs.map((d) => readFileSync(join(d, "cert.pem"), "utf8")), front.pem].map(
      spkiHash,
    );
    browser = await launchChromium([`--ignore-certificate-errors-spki-list=${spki.join(",")}`]);
    page = await openWatchPage(browser, `${front.url}/watch/${live.net.streamId}`, (p) => {
      p.on("request", (r) => requested.push(r.url()));
      p.on("requestfailed", (r) => failed.push(`${r.url()} ${r.failure()?.errorText}`));
      p.on("console", (m) => {
        if (/mixed content/i.test(m.text())) mixed.push(m.text());
      });
    });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((r) => (front ? front.server.close(() => r()) : r()));
    await live?.stop();
    await ca?.kill();
    if (previous) setGlobalDispatcher(previous);
  });

  it("registers https:// relay URLs and plays >= 8 s with every media request over HTTPS", async () => {
    for (const relay of live.net.relays) expect(relay.url).toMatch(/^https:\/\/127\.0\.0\.[123]:\d+$/);
    const s = await waitUntil(
      "8 s of playback",
      async () => {
        const st = await pageStats(page);
        return st.currentTime >= 8 ? st : undefined;
      },
      40_000,
      250,
    );
    await screenshot(page, "player-https");
    expect(s.fatalErrors).toEqual([]);
    expect(s.stats?.verifiedSegments).toBeGreaterThanOrEqual(5);
    const media = requested.filter((u) => u.includes("/live/"));
    expect(media.length).toBeGreaterThan(5);
    expect(
      requested.filter((u) => !u.startsWith("https://") && !u.startsWith("blob:") && !u.startsWith("data:")),
    ).toEqual([]);
    expect(media.some((u) => /^https:\/\/127\.0\.0\.[123]:/.test(u))).toBe(true);
    expect(mixed).toEqual([]);
    expect(failed.filter((f) => /CERT|SSL/i.test(f))).toEqual([]);
  }, 60_000);
});
