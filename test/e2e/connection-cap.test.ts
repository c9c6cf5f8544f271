import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ProcessNetwork, startProcessNetwork } from "../support/processes.ts";
import { waitUntil } from "../support/tools.ts";

const MAX_CONNECTIONS = 32; // the relay's --max-connections here (default 4,096)
const ATTEMPTS = 200; // idle connections an attacker opens at once

/** How many of `sockets` the server has not closed. */
const open = (sockets: Socket[]) => sockets.filter((s) => !s.destroyed).length;

describe("connection cap of a relay process (issue 10)", () => {
  let net: ProcessNetwork;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    net = await startProcessNetwork("connection-cap", ["--max-connections", String(MAX_CONNECTIONS)]);
  }, 60_000);
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await net?.stop();
  });

  it(`${ATTEMPTS} idle connections: the relay keeps at most ${MAX_CONNECTIONS} and closes the rest at accept; once they go, a client is served`, async () => {
    const { hostname, port } = new URL(net.relay.url);
    for (let i = 0; i < ATTEMPTS; i++) {
      const s = connect({ host: hostname, port: Number(port) });
      s.on("error", () => {});
      s.on("close", () => s.destroy());
      sockets.push(s);
    }
    // The server closes every connection over the cap as it accepts it.
    await waitUntil(
      "the relay to close the connections over its cap",
      () => open(sockets) <= MAX_CONNECTIONS || undefined,
      5_000,
      50,
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(open(sockets)).toBeLessThanOrEqual(MAX_CONNECTIONS);
    expect(open(sockets)).toBeGreaterThan(MAX_CONNECTIONS / 2); // it did accept up to the cap
    for (const s of sockets) s.destroy();
    await waitUntil(
      "a client to be served again",
      async () => (await fetch(`${net.relay.url}/healthz`)).status === 200 || undefined,
      5_000,
      100,
    );
    expect(net.relay.exited).toBeUndefined();
  });
});
