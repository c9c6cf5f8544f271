import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ProcessNetwork, rawGet, startProcessNetwork } from "../support/processes.ts";

describe("malformed percent-encoding in a path parameter (issue 10)", () => {
  let net: ProcessNetwork;
  beforeAll(async () => {
    net = await startProcessNetwork("bad-pct");
  }, 60_000);
  afterAll(async () => {
    await net?.stop();
  });

  it("GET /live/%ff/index.m3u8 on a relay process and GET /v1/streams/%ff on a coordinator process are 400 BAD_REQUEST, and both stay up", async () => {
    const cases = [
      [net.relay, "/live/%ff/index.m3u8"],
      [net.relay, "/live/demo/%"],
      [net.coordinator, "/v1/streams/%ff"],
      [net.coordinator, "/v1/nodes/%E0%A4%A/status"],
      [net.coordinator, "http://[/v1/streams"],
    ] as const;
    for (const [service, target] of cases) {
      const res = await rawGet(service.url, target);
      expect(res.status, `${service.name} ${target}: ${res.body}`).toBe(400);
      expect(JSON.parse(res.body)).toMatchObject({ error: { code: "BAD_REQUEST" } });
    }
    await new Promise((r) => setTimeout(r, 200)); // an uncaught exception would exit in this time
    for (const service of [net.relay, net.coordinator]) {
      expect(service.exited, service.output()).toBeUndefined();
      expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
    }
  });
});
