import { signStreamRegistration } from "@streamrp2p/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newAccount, putObject, signedObject } from "../support/fixtures.ts";
import { type ServiceProcess, startCoordinatorProcess, startRelayProcess } from "../support/processes.ts";
import { tempDir, waitUntil } from "../support/tools.ts";

/**
 * Issue 10, finding 4: an ingest relay used to create stream state before it
 * checked the attestation, never evicted streams, and sent every stream in its
 * heartbeat, which the coordinator refuses past 1000: 1001 junk stream ids took
 * a relay out of the network for good. Attacked here on separate processes.
 */
describe("attack: junk streams cannot take an ingest relay out of the network", () => {
  let coordinator: ServiceProcess;
  let relay: ServiceProcess;
  let nodeId: string;
  const attacker = newAccount();

  async function register(streamId: string): Promise<void> {
    const reg = await signStreamRegistration(attacker, streamId, Date.now());
    const res = await fetch(`${coordinator.url}/v1/streams`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(reg),
    });
    expect(res.status, await res.text()).toBeLessThan(300);
  }

  async function relayHealth(): Promise<{ streams: number }> {
    return (await (await fetch(`${relay.url}/healthz`)).json()) as { streams: number };
  }

  async function heartbeatAt(): Promise<{ healthy: boolean; lastHeartbeatAt: number }> {
    const { nodes } = (await (await fetch(`${coordinator.url}/v1/nodes`)).json()) as {
      nodes: Array<{ nodeId: string; healthy: boolean; lastHeartbeatAt: number }>;
    };
    const n = nodes.find((x) => x.nodeId === nodeId);
    if (!n) throw new Error("relay not registered");
    return n;
  }

  beforeAll(async () => {
    const dir = tempDir("attack-ingest");
    // The attacker registers 2 × 1001 streams from 127.0.0.1: raise the per-network registration
    // limit, as an operator running many streams from one network would.
    coordinator = await startCoordinatorProcess(dir, ["--registration-burst", "5000"]);
    relay = await startRelayProcess("relay", coordinator.url, dir, {
      ingest: true,
      args: ["--heartbeat-interval-ms", "500", "--log-level", "error"],
    });
    nodeId = (/relay (0x[0-9a-fA-F]{40})/.exec(relay.output())?.[1] ?? "").toLowerCase();
    await waitUntil(
      "the relay to register",
      async () => (await heartbeatAt().catch(() => undefined))?.healthy,
      10_000,
    );
  }, 60_000);
  afterAll(async () => {
    await relay?.stop();
    await coordinator?.stop();
  });

  it("1001 registered streams pushed with forged or garbled attestations leave no state, and the relay stays in the network", async () => {
    const forger = newAccount();
    const ids = Array.from({ length: 1001 }, (_, i) => `junk-${i}`);
    for (let i = 0; i < ids.length; i += 50) await Promise.all(ids.slice(i, i + 50).map(register));
    const codes = new Map<number, number>();
    for (let i = 0; i < ids.length; i += 50) {
      await Promise.all(
        ids.slice(i, i + 50).map(async (id, j) => {
          const obj = await signedObject(forger, id, "init", 0, 200); // signed, but not by the stream's key
          const res =
            j % 2 === 0
              ? await putObject(relay.url, id, obj)
              : await putObject(relay.url, id, obj, { headers: { "x-srp-attestation": "not-base64-json" } });
          await res.arrayBuffer();
          codes.set(res.status, (codes.get(res.status) ?? 0) + 1);
        }),
      );
    }
    expect(codes.get(201) ?? 0).toBe(0);
    expect([...codes.keys()].every((s) => s === 403 || s === 400)).toBe(true);
    expect((await relayHealth()).streams).toBe(0);
    const before = await heartbeatAt();
    await new Promise((r) => setTimeout(r, 1_500)); // three heartbeat intervals
    const after = await heartbeatAt();
    expect(after.healthy).toBe(true);
    expect(after.lastHeartbeatAt).toBeGreaterThan(before.lastHeartbeatAt);
    expect(relay.exited).toBeUndefined();
  }, 120_000);

  it("validly signed junk streams beyond the relay's limit are refused (503), and its heartbeats keep being accepted", async () => {
    const ids = Array.from({ length: 230 }, (_, i) => `many-${i}`);
    for (let i = 0; i < ids.length; i += 50) await Promise.all(ids.slice(i, i + 50).map(register));
    const statuses: number[] = [];
    for (const id of ids) {
      const res = await putObject(relay.url, id, await signedObject(attacker, id, "init", 0, 200));
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    expect(statuses.filter((s) => s === 201).length).toBe(200); // the relay's maxStreams default
    expect(statuses.filter((s) => s === 503).length).toBe(30);
    expect((await relayHealth()).streams).toBe(200);
    const before = await heartbeatAt();
    await new Promise((r) => setTimeout(r, 1_500));
    const after = await heartbeatAt();
    expect(after.healthy).toBe(true);
    expect(after.lastHeartbeatAt).toBeGreaterThan(before.lastHeartbeatAt);
  }, 120_000);
});
