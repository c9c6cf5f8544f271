import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { CoordinatorClient } from "@streamrp2p/api-client";
import { type Coordinator, createCoordinator, SqliteStore } from "@streamrp2p/coordinator";
import { generateEd25519, type ProbeTask, signProbeTask, signStreamRegistration } from "@streamrp2p/protocol";
import { createRelay, type Relay } from "@streamrp2p/relay";
import { silentLogger } from "@streamrp2p/service";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newAccount, putObject, signedObject } from "../support/fixtures.ts";
import { tempDir, waitUntil } from "../support/tools.ts";

/** A port nothing listens on now, for a relay whose real address must be known before it starts. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

type HostileMode =
  | "honest"
  | "claims-failure"
  | "frozen"
  | "substitutes"
  | "slow"
  | "flips-bytes"
  // As the probed node, not as a go-between: break answers so the go-between looks at fault.
  | "short-receipt"
  | "huge-header"
  | "long-uri";

/**
 * A go-between that is a rival of the node it probes: a real relay behind a
 * proxy that passes everything on except POST /v1/probe, which it answers as
 * `mode` says — pretending the probed node failed, never answering, serving
 * its own copy of the stream instead of the probed node's, or delaying.
 */
class HostileGoBetween {
  mode: HostileMode = "honest";
  #server: Server | undefined;
  url = "";
  constructor(
    private readonly real: () => string,
    private readonly rival: () => string,
  ) {}

  async start(): Promise<void> {
    this.#server = createServer((req, res) => {
      void (async () => {
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        const body = Buffer.concat(chunks);
        if (req.method === "POST" && req.url === "/v1/probe" && this.mode !== "honest") {
          const task = JSON.parse(body.toString()) as ProbeTask;
          if (this.mode === "frozen") return; // accepted, never answered
          if (this.mode === "claims-failure") {
            res.writeHead(502, { "content-type": "application/json" });
            res.end(JSON.stringify({ error: { code: "UPSTREAM_FAILED", message: "node did not answer" } }));
            return;
          }
          if (this.mode === "slow") await new Promise((r) => setTimeout(r, 1_500));
          const url = this.mode === "substitutes" ? task.url.replace(this.rival(), this.real()) : task.url;
          const up = await fetch(url, {
            method: task.method,
            headers: task.headers,
            body: task.body ?? null,
          });
          const headers: Record<string, string> = {};
          up.headers.forEach((v, k) => {
            if (k.startsWith("x-srp-") || k === "content-type") headers[k] = v;
          });
          const bytes = Buffer.from(await up.arrayBuffer());
          // Plants "tamper evidence" against the rival: the bytes it relays are not the rival's.
          if (this.mode === "flips-bytes" && /\/seg-\d+\.m4s/.test(task.url) && bytes.length > 0)
            bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
          res.writeHead(200, {
            "x-srp-probe-status": String(up.status),
            "x-srp-probe-headers": JSON.stringify(headers),
          });
          res.end(bytes);
          return;
        }
        if (this.mode === "short-receipt" && req.method === "POST" && req.url === "/v1/receipts") {
          res.writeHead(200, { "content-type": "application/json", "content-length": "1000" });
          res.write('{"ok":tru');
          setTimeout(() => res.socket?.destroy(), 50); // promised 1000 bytes, sent 10
          return;
        }
        const up = await fetch(`${this.real()}${req.url}`, {
          method: req.method ?? "GET",
          headers: { "content-type": req.headers["content-type"] ?? "application/octet-stream" },
          body: req.method === "GET" || req.method === "HEAD" ? null : body,
        });
        const headers: Record<string, string> = {};
        up.headers.forEach((v, k) => {
          if (k !== "content-length" && k !== "transfer-encoding" && k !== "connection") headers[k] = v;
        });
        // Doubles past any client's header limit once a go-between passes it on as JSON.
        if (this.mode === "huge-header") headers["x-srp-junk"] = '"'.repeat(8_000);
        // Segment URIs too long for any probe task: no relay would take the task.
        if (this.mode === "long-uri" && req.url?.includes("index.m3u8")) {
          const text = (await up.text()).replace(/^(seg-\d+\.m4s)$/gm, `$1?${"x".repeat(3_000)}`);
          res
            .writeHead(up.status, { ...headers, "content-length": String(Buffer.byteLength(text)) })
            .end(text);
          return;
        }
        res.writeHead(up.status, headers).end(Buffer.from(await up.arrayBuffer()));
      })().catch(() => res.destroy());
    });
    const server = this.#server;
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((r) => (this.#server ? this.#server.close(() => r()) : r()));
  }
}

/**
 * Issue 10, finding 6: probes came from the coordinator's own address, so a
 * node could serve probes well and viewers badly. Now the coordinator sends a
 * probe through another relay with a task signed by its ticket key and
 * addressed to that relay; that relay runs only such tasks (it is no open
 * proxy). The go-between is a rival of the probed node, so it is not believed
 * alone when it brings bad news.
 */
describe("probes dispatched through other relays", () => {
  const streamer = newAccount();
  let coordinator: Coordinator;
  let target: Relay;
  let via: Relay;
  let via2: Relay;
  let rivalRelay: Relay;
  let rival: HostileGoBetween;
  let ticketKey: Awaited<ReturnType<typeof generateEd25519>>;
  /** What the coordinator's choices draw: steers which relay is asked first. */
  let draw = 0;
  const coordinatorFetches: string[] = [];
  const viaFetches: string[] = [];

  const recording =
    (log: string[]): typeof fetch =>
    (input, init) => {
      log.push(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
      return fetch(input, init);
    };

  beforeAll(async () => {
    const dir = join(tempDir("probe-dispatch"), "db");
    ticketKey = await generateEd25519();
    coordinator = createCoordinator(
      { port: 0, dataDir: dir, probeIntervalMs: 0, recordIntervalMs: 0, heartbeatIntervalMs: 300 },
      {
        store: new SqliteStore(dir),
        log: silentLogger,
        fetch: recording(coordinatorFetches),
        ticketKey,
        random: () => draw,
      },
    );
    await coordinator.start();
    const client = new CoordinatorClient({ baseUrl: coordinator.url });
    await client.registerStream(await signStreamRegistration(streamer, "show", Date.now()));
    const start = async (log?: string[], publicUrl?: string, port = 0) => {
      const r = createRelay(
        { port, ingest: true, heartbeatIntervalMs: 300, ...(publicUrl ? { publicUrl } : {}) },
        {
          account: newAccount(),
          log: silentLogger,
          coordinator: client,
          ...(log ? { fetch: recording(log) } : {}),
        },
      );
      await r.start();
      return r;
    };
    target = await start();
    const rivalPort = await freePort();
    rival = new HostileGoBetween(
      () => `http://127.0.0.1:${rivalPort}`,
      () => target.url,
    );
    await rival.start();
    via = await start(viaFetches);
    via2 = await start();
    rivalRelay = await start(undefined, rival.url, rivalPort);
    for (const url of [target.url, `http://127.0.0.1:${rivalPort}`]) {
      await putObject(url, "show", await signedObject(streamer, "show", "init", 0, 500));
      for (let seq = 0; seq < 4; seq++)
        await putObject(url, "show", await signedObject(streamer, "show", "segment", seq, 20_000));
    }
    await waitUntil(
      "all four relays healthy at the coordinator",
      async () => {
        const { nodes } = (await (await fetch(`${coordinator.url}/v1/nodes`)).json()) as {
          nodes: Array<{ healthy: boolean }>;
        };
        return nodes.filter((n) => n.healthy).length === 4 || undefined;
      },
      10_000,
    );
  });
  afterAll(async () => {
    await target?.stop();
    await via?.stop();
    await via2?.stop();
    await rivalRelay?.stop();
    await rival?.stop();
    await coordinator?.stop();
  });

  /** The other relays in the order the coordinator lists them (by node id). */
  const candidatesInOrder = () =>
    [via.nodeId, via2.nodeId, rivalRelay.nodeId].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));

  /** The draw that makes the coordinator ask `relay` first among the other relays. */
  const drawFor = async (relay: Relay) => {
    const order = candidatesInOrder();
    const at = order.indexOf(relay.nodeId);
    expect(at).toBeGreaterThanOrEqual(0);
    return (at + 0.5) / order.length;
  };

  it("the probed node is asked by another relay, never by the coordinator, and the probe still measures it", async () => {
    coordinatorFetches.length = 0;
    draw = await drawFor(via);
    const row = await coordinator.accounting.probe(target.nodeId, target.url, "show");
    expect(row.ok, row.error ?? "").toBe(true);
    expect(row.via).toBe(via.nodeId);
    expect(coordinatorFetches.filter((u) => u.startsWith(target.url))).toEqual([]);
    expect(coordinatorFetches.filter((u) => u === `${via.url}/v1/probe`).length).toBeGreaterThanOrEqual(3);
    expect(viaFetches.some((u) => u.startsWith(`${target.url}/live/show/index.m3u8?session=`))).toBe(true);
    expect(viaFetches.some((u) => u.startsWith(`${target.url}/live/show/seg-`))).toBe(true);
    // Like a viewer, the probe left its signed receipt with the node (through the relay too).
    expect(target.receipts.list("show", 10).length).toBe(1);
  });

  it.each([
    ["claims-failure", "says the probed node failed"],
    ["substitutes", "serves its own copy of the stream instead of the probed node's"],
    ["slow", "holds each answer for 1.5 s"],
    ["frozen", "accepts the task and never answers"],
    ["flips-bytes", "changes the segment it relays, to plant tamper evidence against the rival"],
  ] as const)(
    "a rival go-between that %s (%s) cannot spoil the node's probe",
    async (mode: HostileMode, _how: string) => {
      rival.mode = mode;
      try {
        draw = await drawFor(rivalRelay);
        const before = await coordinator.accounting.score(rivalRelay.nodeId);
        const row = await coordinator.accounting.probe(target.nodeId, target.url, "show");
        // The rival was asked first; its bad news was checked by two honest relays, whose majority counts.
        const witnesses = row.via?.split(",") ?? [];
        expect(witnesses).toHaveLength(2);
        expect(witnesses).not.toContain(rivalRelay.nodeId);
        expect(row.ok, row.error ?? "").toBe(true);
        expect(row.ttfbMs ?? Number.POSITIVE_INFINITY).toBeLessThan(500);
        const after = await coordinator.accounting.score(rivalRelay.nodeId);
        // A go-between that does not answer is at fault itself; one that only
        // claims the node failed is not believed, and not blamed (it may be right).
        expect(after.reputation.probes - before.reputation.probes).toBe(mode === "frozen" ? 1 : 0);
        // Bytes a go-between changed are no evidence against the node (its signature names the true hash).
        await coordinator.accounting.refreshQuality();
        expect(coordinator.accounting.qualityOf(target.nodeId, "show")).toMatchObject({
          tampered: false,
          suspect: false,
        });
      } finally {
        rival.mode = "honest";
      }
    },
    30_000,
  );

  it.each<[HostileMode]>([["short-receipt"], ["huge-header"], ["long-uri"]])(
    "a probed node that breaks its answers (%s) cannot make its honest go-between look at fault",
    async (mode) => {
      rival.mode = mode;
      try {
        const others = [target.nodeId, via.nodeId, via2.nodeId].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
        draw = (others.indexOf(via.nodeId) + 0.5) / others.length;
        const before = await Promise.all(
          [via, via2, target].map((r) => coordinator.accounting.score(r.nodeId)),
        );
        await coordinator.accounting.probe(rivalRelay.nodeId, rival.url, "show");
        const after = await Promise.all(
          [via, via2, target].map((r) => coordinator.accounting.score(r.nodeId)),
        );
        // No relay that carried the probe got a failed row of its own.
        expect(after.map((a, i) => a.reputation.probes - (before[i]?.reputation.probes ?? 0))).toEqual([
          0, 0, 0,
        ]);
      } finally {
        rival.mode = "honest";
      }
    },
    30_000,
  );

  it("a relay runs no task the coordinator did not sign, none for another relay, none twice, and none stale: it is no open proxy", async () => {
    const task = {
      url: `${target.url}/live/show/index.m3u8`,
      method: "GET" as const,
      headers: {},
      via: via.nodeId as `0x${string}`,
      nonce: "ab".repeat(16),
      issuedAt: Date.now(),
    };
    const post = (body: unknown, at = via.url) =>
      fetch(`${at}/v1/probe`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const attacker = await generateEd25519();
    viaFetches.length = 0;
    const forged = await post(await signProbeTask(attacker.privateKey, task));
    expect(forged.status).toBe(403);
    const unsigned = await post({ ...task, signature: "x" });
    expect(unsigned.status).toBe(403);
    const internal = await post(
      await signProbeTask(attacker.privateKey, { ...task, url: "http://127.0.0.1:1/admin" }),
    );
    expect(internal.status).toBe(403);
    // A genuine task seen by one relay (here, addressed to the target) and replayed at another.
    const elsewhere = await post(
      await signProbeTask(ticketKey.privateKey, {
        ...task,
        via: target.nodeId as `0x${string}`,
        nonce: "12".repeat(16),
      }),
    );
    expect(elsewhere.status).toBe(403);
    expect(((await elsewhere.json()) as { error: { code: string } }).error.code).toBe("FORBIDDEN");
    // The via field is signed: rewriting it breaks the signature.
    const genuine = await signProbeTask(ticketKey.privateKey, {
      ...task,
      via: target.nodeId as `0x${string}`,
      nonce: "34".repeat(16),
    });
    expect((await post({ ...genuine, via: via.nodeId as `0x${string}` })).status).toBe(403);
    expect(viaFetches).toEqual([]); // nothing was fetched for any of them
    // A task the coordinator signed runs once; its replay and a stale one do not.
    const good = await signProbeTask(ticketKey.privateKey, { ...task, nonce: "cd".repeat(16) });
    const first = await post(good);
    expect(first.status).toBe(200);
    expect(first.headers.get("x-srp-probe-status")).toBe("200");
    expect(await first.text()).toContain("#EXTM3U");
    const replay = await post(good);
    expect(replay.status).toBe(409);
    const stale = await post(
      await signProbeTask(ticketKey.privateKey, {
        ...task,
        nonce: "ef".repeat(16),
        issuedAt: Date.now() - 60_000,
      }),
    );
    expect(stale.status).toBe(401);
    expect(viaFetches).toHaveLength(1);
  });
});
