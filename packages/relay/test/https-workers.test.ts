import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { copyFileSync, readFileSync } from "node:fs";
import { type ClientHttp2Session, connect as h2connect, type OutgoingHttpHeaders } from "node:http2";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import {
  encodeAttestationHeader,
  HEADER_ATTESTATION,
  HEADER_INIT_VERSION,
  sha256Hex,
} from "@streamrp2p/protocol";
import { createRelay, type Relay } from "@streamrp2p/relay";
import { silentLogger } from "@streamrp2p/service";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { caPem, type FakeAcme, makeCa, startFakeAcme } from "../../../test/support/fake-acme.ts";
import { newAccount, type SignedObject, signedObject } from "../../../test/support/fixtures.ts";
import { freePort } from "../../../test/support/pebble.ts";
import { healthz, selfSigned } from "../../../test/support/tls-fixtures.ts";
import { tempDir, waitUntil } from "../../../test/support/tools.ts";

interface Health {
  tls: { fingerprint: string; renewals: number; renewAt: string };
  workers: { wanted: number; running: number; restarts: number };
}

interface Answer {
  status: number;
  body: Buffer;
  /** The leaf the serving process presented, and which process that was. */
  fingerprint: string;
  pid: number | undefined;
}

/** The relay worker processes: children of this (the cluster primary's) process. */
function workerPids(): number[] {
  const out = execFileSync("ps", ["-o", "pid=,args=", "--ppid", String(process.pid)], { encoding: "utf8" });
  return out
    .split("\n")
    .filter((l) => l.includes("relay-worker"))
    .map((l) => Number.parseInt(l.trim(), 10));
}

/** The process holding the server side of `session`'s connection. */
function serverPid(session: ClientHttp2Session, port: number): number | undefined {
  const local = (session.socket as TLSSocket).localPort;
  const ss = execFileSync(
    "ss",
    ["-Htnp", "state", "established", `( sport = :${port} and dport = :${local} )`],
    {
      encoding: "utf8",
    },
  );
  const pid = /pid=(\d+)/.exec(ss)?.[1];
  return pid ? Number(pid) : undefined;
}

/**
 * HTTPS on a relay with two worker processes: the workers serve TLS with the
 * primary's certificate, a renewal reaches both (and a worker that replaces a
 * killed one), and HTTP/2 requests the workers pass to the primary arrive.
 */
describe("relay HTTPS with workers", () => {
  let ca: FakeAcme;
  let relay: Relay;
  let storedFingerprint: string;
  let trust: string[];
  const clock: { frozen?: number } = {};
  const streamer = newAccount();
  let port: number;

  beforeAll(async () => {
    const root = await makeCa("fake-acme root");
    const intermediate = await makeCa("fake-acme intermediate", root);
    ca = await startFakeAcme("127.0.0.1", intermediate);
    const dir = tempDir("srp-tls-workers-");
    const pair = selfSigned(dir, "stored");
    copyFileSync(pair.key, join(dir, "key.pem"));
    copyFileSync(pair.cert, join(dir, "cert.pem"));
    trust = [readFileSync(pair.cert, "utf8"), caPem(root)];
    relay = createRelay(
      {
        ingest: true,
        workers: 2,
        tls: {
          mode: "acme",
          directoryUrl: ca.directoryUrl,
          identifier: "127.0.0.1",
          dir,
          challengeHost: "127.0.0.1",
          challengePort: await freePort(),
          checkIntervalMs: 100,
          retryMinMs: 400,
          requestTimeoutMs: 2_000,
        },
      },
      {
        account: newAccount(),
        log: silentLogger,
        directory: { signerOf: async (id) => (id === "demo" ? streamer.address.toLowerCase() : undefined) },
        now: () => clock.frozen ?? Date.now(),
      },
    );
    await relay.start();
    port = Number(new URL(relay.url).port);
    storedFingerprint = new X509Certificate(readFileSync(pair.cert)).fingerprint256
      .replaceAll(":", "")
      .toLowerCase();
  }, 60_000);

  afterAll(async () => {
    await relay?.stop();
    await ca?.close();
  });

  const health = async () => JSON.parse((await healthz(relay.url, trust)).body) as Health;

  /** One request on a session of its own: the status, body, presented leaf and serving process. */
  async function ask(headers: OutgoingHttpHeaders, body?: Buffer): Promise<Answer> {
    const session = h2connect(relay.url, { ca: trust });
    session.on("error", () => {});
    try {
      await new Promise<void>((r) => session.once("remoteSettings", () => r()));
      const fingerprint = (session.socket as TLSSocket)
        .getPeerCertificate()
        .fingerprint256.replaceAll(":", "")
        .toLowerCase();
      const pid = serverPid(session, port);
      const s = session.request(headers, { endStream: body === undefined });
      const chunks: Buffer[] = [];
      let status = 0;
      s.on("response", (h) => {
        status = Number(h[":status"]);
      });
      s.on("data", (c: Buffer) => chunks.push(c));
      if (body !== undefined) s.end(body);
      await new Promise<void>((resolve, reject) => {
        s.on("end", () => resolve());
        s.on("error", reject);
      });
      return { status, body: Buffer.concat(chunks), fingerprint, pid };
    } finally {
      session.destroy();
    }
  }

  /** `n` fresh connections: the fingerprints they were served and the processes that served them. */
  async function spread(n: number): Promise<{ fingerprints: Set<string>; pids: Set<number | undefined> }> {
    const answers: Answer[] = [];
    for (let i = 0; i < n; i++) answers.push(await ask({ ":path": "/healthz" }));
    for (const a of answers) expect(a.status).toBe(200);
    return {
      fingerprints: new Set(answers.map((a) => a.fingerprint)),
      pids: new Set(answers.map((a) => a.pid)),
    };
  }

  const put = (o: SignedObject) =>
    ask(
      {
        ":method": "PUT",
        ":path": `/live/demo/${o.file}`,
        [HEADER_ATTESTATION]: encodeAttestationHeader(o.att),
        [HEADER_INIT_VERSION]: String(o.init),
      },
      o.bytes,
    );

  it("both workers serve HTTPS with the stored certificate; h2 pushes pass to the primary; media comes from the workers", async () => {
    const workers = workerPids();
    expect(workers).toHaveLength(2);
    const s = await spread(6);
    expect([...s.fingerprints]).toEqual([storedFingerprint]);
    expect([...s.pids].sort()).toEqual([...workers].sort()); // round robin: both workers, only workers
    const init = await signedObject(streamer, "demo", "init", 0, 1000);
    const seg = await signedObject(streamer, "demo", "segment", 0, 40_000);
    expect((await put(init)).status).toBe(201); // h2 to a worker, HTTP/1.1 to the primary
    expect((await put(seg)).status).toBe(201);
    const got = await waitUntil("the segment at a worker", async () => {
      const a = await ask({ ":path": "/live/demo/seg-0.m4s" });
      return a.status === 200 ? a : undefined;
    });
    expect(sha256Hex(got.body)).toBe(seg.att.sha256);
    expect(workers).toContain(got.pid);
  });

  it("a renewal reaches every worker, and workers that replace a killed (-9) and a frozen (SIGSTOP) one serve the renewed certificate", async () => {
    const before = await health();
    expect(before.tls.fingerprint).toBe(storedFingerprint);
    clock.frozen = Date.parse(before.tls.renewAt) + 1_000;
    const renewed = await waitUntil("renewal", async () => {
      const h = await health();
      return h.tls.renewals === 1 ? h : undefined;
    });
    expect(renewed.tls.fingerprint).not.toBe(storedFingerprint);
    const workers = workerPids();
    const after = await spread(6);
    expect([...after.fingerprints]).toEqual([renewed.tls.fingerprint]);
    expect([...after.pids].sort()).toEqual([...workers].sort());
    // kill -9 one worker: its replacement starts with the newest certificate, not the one at start.
    const [victim] = workers;
    process.kill(victim ?? 0, "SIGKILL");
    await waitUntil(
      "a replacement worker",
      async () => {
        const h = await health();
        const now = workerPids();
        return h.workers.running === 2 && now.length === 2 && !now.includes(victim ?? 0) ? true : undefined;
      },
      30_000,
    );
    const replaced = await spread(6);
    expect([...replaced.fingerprints]).toEqual([renewed.tls.fingerprint]);
    expect(replaced.pids.size).toBe(2);
    expect(replaced.pids.has(victim)).toBe(false);
    // A frozen (SIGSTOP) worker is replaced too, and its replacement also serves the renewed one.
    const [frozen] = workerPids();
    process.kill(frozen ?? 0, "SIGSTOP");
    try {
      await waitUntil(
        "the frozen worker replaced",
        async () => {
          const now = workerPids();
          return now.length === 2 && !now.includes(frozen ?? 0) && (await health()).workers.running === 2
            ? true
            : undefined;
        },
        30_000,
      );
    } finally {
      try {
        process.kill(frozen ?? 0, "SIGCONT");
      } catch {
        // already gone (killed by the pool): nothing to thaw
      }
    }
    const afterFreeze = await spread(6);
    expect([...afterFreeze.fingerprints]).toEqual([renewed.tls.fingerprint]);
    expect(afterFreeze.pids.has(frozen)).toBe(false);
  });
});
