import { join } from "node:path";
import { CoordinatorClient } from "@streamrp2p/api-client";
import { signNodeRegistration } from "@streamrp2p/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newAccount } from "../support/fixtures.ts";
import { freshDatabase, type PostgresServer, startPostgres } from "../support/postgres-server.ts";
import { type ServiceProcess, startCli } from "../support/processes.ts";
import { tempDir, waitUntil } from "../support/tools.ts";

/**
 * Coordinator replicas as separate processes on one real PostgreSQL: any
 * replica answers for a node registered through another, and exactly one of
 * them (the epoch lease holder) closes each epoch, also when the holder dies
 * (`kill -9`), freezes (`SIGSTOP`) or stops cleanly.
 */
const EPOCH_MS = 1_500;
const LEASE_TTL_MS = 2_500;

let pg: PostgresServer;
beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterAll(async () => {
  await pg?.stop();
});

async function startReplicas(n: number) {
  const url = await freshDatabase(pg.url, "replicas");
  const dir = tempDir("replicas");
  const replicas: ServiceProcess[] = [];
  for (let i = 0; i < n; i++) {
    replicas.push(
      await startCli(
        `coordinator-${i}`,
        [
          "coordinator",
          "--port",
          "0",
          "--postgres",
          url,
          "--data-dir",
          join(dir, `c${i}`),
          "--ticket-key",
          join(dir, "ticket.key"),
          "--replica-id",
          `r${i}`,
          "--epoch-ms",
          String(EPOCH_MS),
          "--lease-ttl-ms",
          String(LEASE_TTL_MS),
          "--probe-interval-ms",
          "0",
        ],
        /coordinator at (http:\/\/[0-9.:]+)/,
      ),
    );
  }
  return replicas;
}

/** Epoch numbers each replica logged as closed. */
function closedBy(r: ServiceProcess): number[] {
  return r
    .output()
    .split("\n")
    .filter((l) => l.includes('"msg":"epoch closed"'))
    .map((l) => (JSON.parse(l) as { epoch: number }).epoch);
}

function expectEachEpochOnce(replicas: ServiceProcess[]) {
  const all = replicas.flatMap(closedBy).sort((a, b) => a - b);
  expect(new Set(all).size, `epochs closed twice: ${all.join(",")}`).toBe(all.length);
  for (let i = 1; i < all.length; i++)
    expect(all[i], `gap in ${all.join(",")}`).toBe((all[i - 1] as number) + 1);
  return all;
}

const leaderOf = (replicas: ServiceProcess[]) =>
  waitUntil("a replica to lead", () => replicas.find((r) => closedBy(r).length > 0), 15_000);

describe("coordinator replicas on one PostgreSQL", () => {
  it("answer for each other's nodes: a token from one works at the other, heartbeats show up everywhere", async () => {
    const [a, b] = await startReplicas(2);
    if (!a || !b) throw new Error("no replicas");
    try {
      const account = newAccount();
      const reg = await signNodeRegistration(account, {
        url: "http://127.0.0.1:9",
        region: "eu-west",
        capacityMbps: 100,
        ingest: false,
        streams: [],
        issuedAt: Date.now(),
      });
      const atA = new CoordinatorClient({ baseUrl: a.url });
      const atB = new CoordinatorClient({ baseUrl: b.url });
      const { token } = await atA.registerNode(reg);
      const hb = { nodeId: reg.nodeId, connections: 42, egressBps: 1e6, bytesServed: 7, streams: [] };
      await atB.heartbeat(token, hb); // B never saw the registration: it reads the database
      await expect(atB.heartbeat("f".repeat(64), hb)).rejects.toThrow(/token/);
      // A learns B's heartbeat through the database (batched write, then A's refresh).
      await waitUntil(
        "A to see the heartbeat B took",
        async () => {
          const r = await fetch(`${a.url}/v1/nodes`);
          const nodes = (
            (await r.json()) as { nodes: { nodeId: string; connections: number; healthy: boolean }[] }
          ).nodes;
          const n = nodes.find((x) => x.nodeId === reg.nodeId);
          return n?.connections === 42 && n.healthy ? true : undefined;
        },
        10_000,
      );
      // A replay of the registration at the other replica is refused there too.
      const replay = await fetch(`${b.url}/v1/nodes`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(reg),
      });
      expect(replay.status).toBe(409);
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  for (const failure of ["kill -9", "SIGSTOP", "clean stop"] as const) {
    it(`close each epoch exactly once, and another replica takes over when the leader gets ${failure}`, async () => {
      const replicas = await startReplicas(2);
      try {
        const leader = await leaderOf(replicas);
        const other = replicas.find((r) => r !== leader) as ServiceProcess;
        await waitUntil("two epochs closed", () => (closedBy(leader).length >= 2 ? true : undefined), 10_000);
        expect(closedBy(other)).toEqual([]);
        const before = Math.max(...closedBy(leader));
        if (failure === "kill -9") leader.proc.kill("SIGKILL");
        else if (failure === "SIGSTOP") leader.proc.kill("SIGSTOP");
        else {
          const gone = new Promise((r) => leader.proc.once("exit", r));
          leader.proc.kill("SIGTERM");
          await gone;
        }
        const t0 = Date.now();
        await waitUntil(
          "the other replica to close epochs",
          () => (closedBy(other).length >= 2 ? true : undefined),
          20_000,
        );
        const takeover = Date.now() - t0;
        // A clean stop releases the lease; a dead or frozen leader loses it when it expires.
        expect(takeover).toBeLessThan(LEASE_TTL_MS + 3 * EPOCH_MS + 2_000);
        expect(Math.min(...closedBy(other))).toBe(before + 1); // no epoch skipped, none repeated
        if (failure === "SIGSTOP") {
          // Thawed, the old leader finds the lease taken: it closes nothing twice and does not crash.
          leader.proc.kill("SIGCONT");
          const n = closedBy(other).length;
          await waitUntil(
            "two more epochs",
            () => (closedBy(other).length >= n + 2 ? true : undefined),
            10_000,
          );
          expect(leader.exited).toBeUndefined();
          expect(leader.output()).toContain("epoch lease lost");
        }
        const all = expectEachEpochOnce(replicas);
        // Every closed epoch is in the database, once, whoever closed it.
        for (const e of all) {
          const r = await fetch(`${other.url}/v1/epochs/${e}`);
          expect(r.status, `epoch ${e}`).toBe(200);
        }
      } finally {
        for (const r of replicas) {
          r.proc.kill("SIGCONT");
          await r.stop();
        }
      }
    });
  }
});
