import { copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createRelay, type Relay } from "@streamrp2p/relay";
import { silentLogger } from "@streamrp2p/service";
import { afterEach, describe, expect, it } from "vitest";
import {
  caPem,
  type FakeAcme,
  foreignPublicKey,
  issueLeaf,
  makeCa,
  startFakeAcme,
  type TestCa,
} from "../../../test/support/fake-acme.ts";
import { newAccount } from "../../../test/support/fixtures.ts";
import { freePort } from "../../../test/support/pebble.ts";
import { healthz, selfSigned } from "../../../test/support/tls-fixtures.ts";
import { tempDir, waitUntil } from "../../../test/support/tools.ts";

interface TlsHealth {
  fingerprint: string;
  renewals: number;
  failures: number;
  consecutiveFailures: number;
  renewAt: string;
  nextAttemptAt?: string;
  lastError?: string;
}

const HOUR = 3_600_000;
const REQUEST_TIMEOUT_MS = 2_000;

describe("relay ACME renewal against a CA that trickles, floods or lies", () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  let root: TestCa;
  let intermediate: TestCa;

  /**
   * A relay serving a stored (self-signed, 2-day) certificate for 127.0.0.1,
   * renewing from `ca` once the injected clock passes its renewAt.
   */
  async function start(ca: FakeAcme) {
    const dir = tempDir("srp-tls-ca-");
    const pair = selfSigned(dir, "stored");
    copyFileSync(pair.key, join(dir, "key.pem"));
    copyFileSync(pair.cert, join(dir, "cert.pem"));
    const clock: { frozen?: number } = {};
    const relay: Relay = createRelay(
      {
        tls: {
          mode: "acme",
          directoryUrl: ca.directoryUrl,
          identifier: "127.0.0.1",
          dir,
          challengeHost: "127.0.0.1",
          challengePort: await freePort(),
          checkIntervalMs: 100,
          retryMinMs: 400,
          retryMaxMs: 60_000,
          requestTimeoutMs: REQUEST_TIMEOUT_MS,
          maxResponseBytes: 64 * 1024,
          pollMinMs: 100,
        },
      },
      {
        account: newAccount(),
        log: silentLogger,
        directory: { signerOf: async () => undefined },
        now: () => clock.frozen ?? Date.now(),
      },
    );
    await relay.start();
    cleanup.push(() => relay.stop());
    // Clients trust the stored certificate and the fake CA's root alike.
    const trust = [readFileSync(pair.cert, "utf8"), caPem(root)];
    const health = async () => {
      const r = await healthz(relay.url, trust);
      return { served: r.fingerprint, tls: (JSON.parse(r.body) as { tls: TlsHealth }).tls };
    };
    const stored = () => readFileSync(join(dir, "cert.pem"), "utf8");
    return { relay, clock, health, stored };
  }

  async function fakeCa(): Promise<FakeAcme> {
    root ??= await makeCa("fake-acme root");
    intermediate ??= await makeCa("fake-acme intermediate", root);
    const ca = await startFakeAcme("127.0.0.1", intermediate);
    cleanup.push(() => ca.close());
    return ca;
  }

  /** Moves the clock to the next attempt and waits for its failure: what /healthz says then. */
  async function nextFailure(r: Awaited<ReturnType<typeof start>>, failuresBefore: number) {
    const h = await r.health();
    r.clock.frozen = h.tls.nextAttemptAt
      ? Date.parse(h.tls.nextAttemptAt)
      : Date.parse(h.tls.renewAt) + 1_000;
    return waitUntil(`failure ${failuresBefore + 1}`, async () => {
      const now = await r.health();
      return now.tls.failures > failuresBefore ? now : undefined;
    });
  }

  it("a CA trickling a byte per second fails the attempt at the deadline; the current certificate stays; backoff; then it renews", async () => {
    const ca = await fakeCa();
    ca.delivery = { kind: "trickle", everyMs: 1_000 };
    const r = await start(ca);
    const before = await r.health();
    const storedBefore = r.stored();
    // Without a deadline the ~200-byte directory alone takes minutes; the wait below is 15 s.
    const failed = await nextFailure(r, 0);
    expect(failed.tls.lastError).toContain(`took over ${REQUEST_TIMEOUT_MS} ms`);
    expect(failed.served).toBe(before.served);
    expect(failed.tls.fingerprint).toBe(before.served);
    expect(r.stored()).toBe(storedBefore);
    expect(Date.parse(failed.tls.nextAttemptAt ?? "") - (r.clock.frozen ?? 0)).toBe(400);
    const second = await nextFailure(r, 1);
    expect(Date.parse(second.tls.nextAttemptAt ?? "") - (r.clock.frozen ?? 0)).toBe(800); // doubled
    // The CA answers normally again: the next attempt renews, and new connections get the new chain.
    ca.delivery = { kind: "whole" };
    r.clock.frozen = Date.parse(second.tls.nextAttemptAt ?? "");
    const renewed = await waitUntil("renewal", async () => {
      const h = await r.health();
      return h.tls.renewals === 1 ? h : undefined;
    });
    expect(renewed.tls.consecutiveFailures).toBe(0);
    expect(renewed.served).not.toBe(before.served);
    expect(renewed.served).toBe(renewed.tls.fingerprint);
  });

  it("a CA answer over maxResponseBytes fails the attempt; the current certificate stays", async () => {
    const ca = await fakeCa();
    ca.delivery = { kind: "huge", bytes: 5 * 1024 * 1024 };
    const r = await start(ca);
    const before = await r.health();
    const failed = await nextFailure(r, 0);
    expect(failed.tls.lastError).toMatch(/maxContentLength/);
    expect(failed.served).toBe(before.served);
    expect(failed.tls.renewals).toBe(0);
  });

  it("a chain that lies (another key, another address, expired, not yet valid, no issuer, a foreign issuer, an expired issuer) is refused; the current certificate stays; the honest one is taken", async () => {
    const ca = await fakeCa();
    const r = await start(ca);
    const before = await r.health();
    const storedBefore = r.stored();
    const now = () => r.clock.frozen ?? Date.now();
    // Valid on the relay's (frozen, later) clock and on the real one the test's TLS client uses.
    const valid = () => ({ notBefore: Date.now() - HOUR, notAfter: now() + 10 * 24 * HOUR });
    const impostor = await makeCa("fake-acme intermediate", root); // the same name, another key
    const expiredIssuer = await makeCa("fake-acme intermediate", root, { from: -30 * 24 * HOUR, to: -HOUR });
    const lies: Array<[string, (key: Parameters<FakeAcme["issue"]>[0]) => Promise<string>, RegExp]> = [
      [
        "a leaf for another key",
        async () =>
          (await issueLeaf(await foreignPublicKey(), "127.0.0.1", intermediate, valid())) +
          caPem(intermediate),
        /not for this key/,
      ],
      [
        "a leaf for another address",
        async (k) => (await issueLeaf(k, "127.0.0.2", intermediate, valid())) + caPem(intermediate),
        /not for 127\.0\.0\.1/,
      ],
      [
        "an expired leaf",
        async (k) =>
          (await issueLeaf(k, "127.0.0.1", intermediate, {
            notBefore: now() - 10 * HOUR,
            notAfter: now() - HOUR,
          })) + caPem(intermediate),
        /expired/,
      ],
      [
        "a leaf not valid for a day yet",
        async (k) =>
          (await issueLeaf(k, "127.0.0.1", intermediate, {
            notBefore: now() + 24 * HOUR,
            notAfter: now() + 48 * HOUR,
          })) + caPem(intermediate),
        /not valid before/,
      ],
      [
        "a leaf without its issuer",
        async (k) => issueLeaf(k, "127.0.0.1", intermediate, valid()),
        /without its issuer/,
      ],
      [
        "a leaf with an issuer that did not sign it",
        async (k) => (await issueLeaf(k, "127.0.0.1", impostor, valid())) + caPem(intermediate),
        /not issued by the next one/,
      ],
      [
        "an expired issuer",
        async (k) => (await issueLeaf(k, "127.0.0.1", expiredIssuer, valid())) + caPem(expiredIssuer),
        /chain certificate 1 expired/,
      ],
    ];
    for (const [i, [what, issue, error]] of lies.entries()) {
      ca.issue = issue;
      const h = await nextFailure(r, i);
      expect(h.tls.lastError, what).toMatch(error);
      expect(h.tls.renewals, what).toBe(0);
      expect(h.served, what).toBe(before.served);
      expect(h.tls.fingerprint, what).toBe(before.served);
      expect(r.stored(), what).toBe(storedBefore);
    }
    // The same CA, honest: the chain is taken and served.
    ca.issue = async (k) => (await issueLeaf(k, "127.0.0.1", intermediate, valid())) + caPem(intermediate);
    const h = await r.health();
    r.clock.frozen = Date.parse(h.tls.nextAttemptAt ?? "");
    const renewed = await waitUntil("renewal", async () => {
      const x = await r.health();
      return x.tls.renewals === 1 ? x : undefined;
    });
    expect(renewed.served).not.toBe(before.served);
    expect(r.stored()).not.toBe(storedBefore);
  });
});
