import { execFileSync } from "node:child_process";
import { Agent, get, request } from "node:http";
import {
  decodeAttestationHeader,
  HEADER_ATTESTATION,
  type SegmentAttestation,
  type SigningDomain,
  sha256Hex,
  signStreamRegistration,
  verifySegmentAttestation,
} from "@streamrp2p/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  newAccount,
  putObject,
  type SignedObject,
  signedObject,
  signedRungObject,
} from "../support/fixtures.ts";
import { type ServiceProcess, startCoordinatorProcess, startRelayProcess } from "../support/processes.ts";
import { SimulatedViewer } from "../support/sim-viewer.ts";
import { tempDir, waitUntil } from "../support/tools.ts";

/**
 * Issue 12: a relay uses every core. An ingest relay and a pulling relay, each
 * a primary with two worker processes (`--workers 2`), on 127.0.0.1: pushes
 * and receipts pass through the workers to the primary, both workers serve the
 * verified bytes, byte counts add up across them, a worker killed (-9) or
 * frozen (SIGSTOP) is replaced, and SIGTERM still drains.
 */
describe("a relay on two worker processes", () => {
  let coordinator: ServiceProcess;
  let ingest: ServiceProcess;
  let edge: ServiceProcess;
  let domain: SigningDomain;
  let pusher: NodeJS.Timeout | undefined;
  const streamer = newAccount();
  const streamId = "workers";
  const held = new Map<string, SignedObject>();
  let nextSeq = 0;

  const nodeIdOf = (p: ServiceProcess) =>
    (/relay (0x[0-9a-fA-F]{40})/.exec(p.output())?.[1] ?? "").toLowerCase();
  const portOf = (p: ServiceProcess) => Number(new URL(p.url).port);
  const workerPids = (p: ServiceProcess) =>
    execFileSync("pgrep", ["-P", String(p.pid)], { encoding: "utf8" })
      .split("\n")
      .filter(Boolean)
      .map(Number);
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  async function health(p: ServiceProcess) {
    return (await (await fetch(`${p.url}/healthz`)).json()) as {
      draining: boolean;
      workers: { wanted: number; running: number; restarts: number };
    };
  }

  async function pushNext(): Promise<void> {
    const o = await signedObject(streamer, streamId, "segment", nextSeq, 120_000);
    nextSeq += 1;
    held.set(o.file, o);
    const res = await putObject(ingest.url, streamId, o);
    expect(res.status, await res.text()).toBe(201);
  }

  /** GETs `path` on `n` connections at once, then names the processes holding those connections. */
  async function getSpread(
    p: ServiceProcess,
    path: string,
    n: number,
  ): Promise<{
    bodies: Array<{ status: number; body: Buffer; att: string | undefined }>;
    pids: Set<number>;
  }> {
    const agent = new Agent({ keepAlive: true, maxSockets: n });
    try {
      const bodies = await Promise.all(
        Array.from(
          { length: n },
          () =>
            new Promise<{ status: number; body: Buffer; att: string | undefined }>((resolve, reject) => {
              get(`${p.url}${path}`, { agent }, (res) => {
                const chunks: Buffer[] = [];
                res.on("data", (c: Buffer) => chunks.push(c));
                res.on("end", () =>
                  resolve({
                    status: res.statusCode ?? 0,
                    body: Buffer.concat(chunks),
                    att: res.headers[HEADER_ATTESTATION] as string | undefined,
                  }),
                );
                res.on("error", reject);
              }).on("error", reject);
            }),
        ),
      );
      // The connections are still open (keep-alive): whoever holds their server side served them.
      const ss = execFileSync("ss", ["-Htnp", "state", "established", `( sport = :${portOf(p)} )`], {
        encoding: "utf8",
      });
      const pids = new Set([...ss.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])));
      return { bodies, pids };
    } finally {
      agent.destroy();
    }
  }

  async function expectVerified(r: { status: number; body: Buffer; att: string | undefined }, file: string) {
    expect(r.status).toBe(200);
    const att: SegmentAttestation = decodeAttestationHeader(r.att);
    await verifySegmentAttestation(att, streamer.address, domain);
    expect(sha256Hex(r.body)).toBe(att.sha256);
    expect(att.sha256).toBe(held.get(file)?.att.sha256);
  }

  beforeAll(async () => {
    const dir = tempDir("relay-workers");
    coordinator = await startCoordinatorProcess(dir);
    domain = ((await (await fetch(`${coordinator.url}/v1/info`)).json()) as { domain: SigningDomain }).domain;
    const fast = ["--heartbeat-interval-ms", "500", "--receipt-submit-interval-ms", "500", "--workers", "2"];
    ingest = await startRelayProcess("ingest", coordinator.url, dir, { ingest: true, args: fast });
    await waitUntil("the ingest relay to register", async () => {
      const { nodes } = (await (await fetch(`${coordinator.url}/v1/nodes`)).json()) as {
        nodes: Array<{ nodeId: string; healthy: boolean }>;
      };
      return nodes.find((n) => n.nodeId === nodeIdOf(ingest))?.healthy;
    });
    const reg = await signStreamRegistration(streamer, streamId, Date.now());
    const res = await fetch(`${coordinator.url}/v1/streams`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(reg),
    });
    const info = (await res.json()) as { ingest: Array<{ nodeId: string }> };
    expect(info.ingest.map((n) => n.nodeId)).toContain(nodeIdOf(ingest));
    const init = await signedObject(streamer, streamId, "init", 0, 2_000);
    held.set(init.file, init);
    expect((await putObject(ingest.url, streamId, init)).status).toBe(201);
    for (let i = 0; i < 4; i++) await pushNext();
    pusher = setInterval(() => void pushNext().catch(() => {}), 1_000);
    edge = await startRelayProcess("edge", coordinator.url, dir, {
      args: [...fast, "--drain-grace-ms", "1500"],
    });
    await waitUntil(
      "the pulling relay to serve the stream",
      async () => (await fetch(`${edge.url}/live/${streamId}/index.m3u8`)).status === 200,
      20_000,
    );
  }, 90_000);

  afterAll(async () => {
    clearInterval(pusher);
    await edge?.stop();
    await ingest?.stop();
    await coordinator?.stop();
  });

  it("serves a ladder's rungs through the workers: the multivariant playlist and rung objects come from the primary", async () => {
    for (const o of [
      await signedRungObject(streamer, streamId, "360p", "init", 0, 1_000),
      await signedRungObject(streamer, streamId, "360p", "segment", nextSeq - 1, 20_000),
    ]) {
      held.set(o.file, o);
      expect((await putObject(ingest.url, streamId, o)).status).toBe(201);
    }
    const master = await getSpread(ingest, `/live/${streamId}/master.m3u8`, 6);
    expect(master.pids.size).toBeGreaterThanOrEqual(2); // answered by more than one worker
    for (const b of master.bodies) {
      expect(b.status).toBe(200);
      expect(b.body.toString()).toContain("360p/index.m3u8");
    }
    const file = `360p/seg-${nextSeq - 1}.m4s`;
    const seg = await getSpread(ingest, `/live/${streamId}/${file}`, 4);
    for (const b of seg.bodies) {
      expect(b.status).toBe(200);
      expect(decodeAttestationHeader(b.att).rendition).toBe("360p");
      expect(b.body.equals(held.get(file)?.bytes as Buffer)).toBe(true);
    }
  });

  it("serves pushed and pulled segments from both workers, bytes as attested", async () => {
    expect(workerPids(ingest)).toHaveLength(2);
    expect(workerPids(edge)).toHaveLength(2);
    for (const relay of [ingest, edge]) {
      const file = `seg-${nextSeq - 2}.m4s`;
      await waitUntil("the segment on the relay", async () => {
        const r = await fetch(`${relay.url}/live/${streamId}/${file}`);
        await r.arrayBuffer();
        return r.status === 200;
      });
      const { bodies, pids } = await getSpread(relay, `/live/${streamId}/${file}`, 8);
      for (const r of bodies) await expectVerified(r, file);
      expect([...pids].sort()).toEqual(workerPids(relay).sort());
      // What a worker does not serve, the primary answers, as a single process would.
      expect((await fetch(`${relay.url}/live/${streamId}/seg-999999.m4s`)).status).toBe(404);
      expect((await fetch(`${relay.url}/nope`)).status).toBe(404);
      expect((await fetch(`${relay.url}/healthz`)).status).toBe(200);
      // The workers' counts, in the primary's metrics within a moment.
      await waitUntil("the workers' requests in the primary's metrics", async () =>
        /srp_relay_requests_total\{kind="segment",status="200"[^}]*\} \d+/.test(
          await (await fetch(`${relay.url}/metrics`)).text(),
        ),
      );
    }
  });

  it("adds a session's bytes from both workers once each, and keeps its receipts in one place", async () => {
    // Viewers are routed to the pulling relay once its heartbeat reports the stream's live edge.
    const viewer = await waitUntil("the pulling relay in the viewer's list", () =>
      SimulatedViewer.start(coordinator.url, streamId, nodeIdOf(edge)),
    );
    await waitUntil("the viewer to load segments", () => viewer.loadedSegments >= 2 || undefined, 20_000);
    await viewer.stop(); // sends its last receipt
    const sessionId = viewer.session.ticket.sessionId;
    type Listed = { receipts: Array<{ receipt: { sessionId: string; bytes: number }; servedBytes: number }> };
    const listed = async () =>
      (
        (await (await fetch(`${edge.url}/v1/receipts?streamId=${streamId}`)).json()) as Listed
      ).receipts.filter((r) => r.receipt.sessionId === sessionId);
    // The viewer signed for every byte it got (pinned: all from this relay); the workers' counts,
    // reported to the primary within a moment, say the same.
    const before = await waitUntil(
      "the viewer's receipt on the relay, matching what the workers served",
      async () => {
        const rows = await listed();
        return rows.length === 1 &&
          rows[0] &&
          rows[0].receipt.bytes > 0 &&
          rows[0].servedBytes === rows[0].receipt.bytes
          ? rows[0]
          : undefined;
      },
    );
    // The same session's requests dealt to both workers: each byte counted once, in the primary.
    const file = `seg-${nextSeq - 2}.m4s`;
    const { bodies, pids } = await getSpread(edge, `/live/${streamId}/${file}?session=${sessionId}`, 8);
    expect(pids.size).toBe(2);
    const extra = bodies.reduce((n, r) => n + r.body.length, 0);
    await waitUntil("the workers' counts at the primary", async () => {
      const rows = await listed();
      return rows.length === 1 && rows[0]?.servedBytes === before.servedBytes + extra ? true : undefined;
    });
    await new Promise((r) => setTimeout(r, 500)); // a later report must not count anything twice
    expect((await listed())[0]?.servedBytes).toBe(before.servedBytes + extra);
  });

  it("answers a client's mistakes through the workers as a single process does: 4xx, and no process falls", async () => {
    const before = workerPids(ingest).sort();
    const seg = held.get(`seg-${nextSeq - 1}.m4s`) as SignedObject;
    const json = { "content-type": "application/json" };
    const cases: Array<[string, RequestInit, number]> = [
      [
        `/live/${streamId}/seg-${nextSeq + 50}.m4s`,
        { method: "PUT", headers: { "x-srp-attestation": "junk" }, body: "x" },
        400,
      ],
      ["/live/%ff/seg-1.m4s", {}, 400],
      ["/v1/receipts", { method: "POST", headers: { "content-type": "application/json" }, body: "{" }, 400],
      [`/live/${streamId}/end`, { method: "POST", headers: json, body: "[]" }, 400],
      ["/v1/probe", { method: "POST", headers: json, body: "null" }, 400],
    ];
    for (const [path, init, status] of cases) {
      const res = await fetch(`${ingest.url}${path}`, init).catch(() => undefined);
      expect([path, res?.status]).toEqual([path, status]);
      await res?.arrayBuffer();
    }
    // A body declared too large is refused before it is read (the primary's limit, through a worker).
    const declared = await new Promise<number>((resolve, reject) => {
      const req = request(`${ingest.url}/live/${streamId}/seg-${seg.att.seq + 100}.m4s`, {
        method: "PUT",
        headers: { "content-length": "999999999" },
      });
      req.on("response", (res) => {
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.on("error", reject);
      req.flushHeaders();
    });
    expect(declared).toBe(413);
    expect((await health(ingest)).workers).toMatchObject({ running: 2, restarts: 0 });
    expect(workerPids(ingest).sort()).toEqual(before);
  });

  it("replaces a worker killed with kill -9, and the new one serves old and new segments", async () => {
    const [victim, other] = workerPids(edge) as [number, number];
    const { restarts } = (await health(edge)).workers;
    process.kill(victim, "SIGKILL");
    await waitUntil("a replacement worker", async () => {
      const h = (await health(edge)).workers;
      return h.restarts > restarts && h.running === 2 ? true : undefined;
    });
    const pids = workerPids(edge);
    expect(pids).toContain(other);
    expect(pids).not.toContain(victim);
    const seqNow = nextSeq;
    await waitUntil("a segment pushed after the restart", async () => {
      const r = await fetch(`${edge.url}/live/${streamId}/seg-${seqNow}.m4s`);
      await r.arrayBuffer();
      return r.status === 200;
    });
    for (const file of [`seg-${seqNow - 3}.m4s`, `seg-${seqNow}.m4s`]) {
      const spread = await getSpread(edge, `/live/${streamId}/${file}`, 8);
      for (const r of spread.bodies) await expectVerified(r, file);
      expect([...spread.pids].sort()).toEqual([...pids].sort());
    }
  });

  it("replaces a frozen (SIGSTOP) worker", async () => {
    const [victim] = workerPids(edge) as [number];
    const { restarts } = (await health(edge)).workers;
    process.kill(victim, "SIGSTOP");
    try {
      await waitUntil(
        "the frozen worker replaced",
        async () => {
          const h = (await health(edge)).workers;
          return h.restarts > restarts && h.running === 2 && !alive(victim) ? true : undefined;
        },
        20_000,
      );
    } finally {
      if (alive(victim)) process.kill(victim, "SIGCONT");
    }
    const file = `seg-${nextSeq - 2}.m4s`;
    const spread = await getSpread(edge, `/live/${streamId}/${file}`, 4);
    for (const r of spread.bodies) await expectVerified(r, file);
  });

  it("drains on SIGTERM: workers answer DRAINING, then primary and workers exit 0", async () => {
    const pids = workerPids(edge);
    const exited = new Promise<number | null>((resolve) => edge.proc.once("exit", (code) => resolve(code)));
    edge.proc.kill("SIGTERM");
    await waitUntil("DRAINING from the workers", async () => {
      const r = await fetch(`${edge.url}/live/${streamId}/index.m3u8`);
      const body = (await r.json()) as { error?: { code: string } };
      return r.status === 503 && body.error?.code === "DRAINING" ? true : undefined;
    });
    expect((await health(edge)).draining).toBe(true);
    expect(await exited).toBe(0);
    for (const pid of pids) expect(alive(pid)).toBe(false);
  });
});
