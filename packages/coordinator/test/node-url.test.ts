import { join } from "node:path";
import { type Coordinator, createCoordinator, SqliteStore } from "@streamrp2p/coordinator";
import { signNodeRegistration } from "@streamrp2p/protocol";
import { silentLogger } from "@streamrp2p/service";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newAccount } from "../../../test/support/fixtures.ts";
import { tempDir } from "../../../test/support/tools.ts";

/**
 * Issue 10, finding 9 (SSRF): node URLs are fetched by the coordinator's
 * prober and by origins. A public coordinator takes only routable hosts, so a
 * node cannot aim them at cloud metadata or internal services.
 */
describe("attack: node URLs aimed at internal services", () => {
  let coordinator: Coordinator;
  beforeAll(async () => {
    const dataDir = join(tempDir("node-url"), "db");
    coordinator = createCoordinator(
      { port: 0, dataDir, nodeUrls: "public", probeIntervalMs: 0 },
      { store: new SqliteStore(dataDir), log: silentLogger },
    );
    await coordinator.start();
  });
  afterAll(() => coordinator?.stop());

  async function register(url: string): Promise<{ status: number; code?: string }> {
    const reg = await signNodeRegistration(newAccount(), {
      url,
      region: "eu",
      capacityMbps: 100,
      ingest: true,
      streams: [],
      issuedAt: Date.now(),
    });
    const res = await fetch(`${coordinator.url}/v1/nodes`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(reg),
    });
    const body = (await res.json()) as { error?: { code: string } };
    return { status: res.status, code: body.error?.code };
  }

  it("refuses loopback, private, link-local, CGNAT, mapped and unqualified hosts, and credentials", async () => {
    for (const url of [
      "http://127.0.0.1:8080",
      "http://127.1.2.3",
      "http://10.0.0.5",
      "http://172.16.9.1",
      "http://192.168.1.1",
      "http://169.254.169.254/latest/meta-data",
      "http://100.64.0.1",
      "http://0.0.0.0:80",
      "http://[::1]:8080",
      "http://[fe80::1]",
      "http://[fd00::1]",
      "http://[::ffff:127.0.0.1]",
      "http://localhost:8080",
      "http://metadata",
      "http://node.local",
      "http://localhost./",
      "http://[::7f00:1]",
      "http://[64:ff9b:1::a9fe:a9fe]",
      "http://[2002:a9fe:a9fe::]",
      "https://user:pw@relay.example.org",
    ]) {
      const r = await register(url);
      expect(r, url).toEqual({ status: 400, code: "VALIDATION_FAILED" });
    }
  });

  it("refuses a URL with a path, query or fragment of its own, which would aim everyone who fetches it elsewhere (review)", async () => {
    for (const url of [
      "https://relay.example.org/latest/meta-data/iam/security-credentials/#",
      "https://victim.example.org/expensive?x=",
      "https://relay.example.org/#",
      "https://relay.example.org/sub",
      // Written so the URL parser cleans them up: stored as written, no relay would fetch them.
      "https://Relay.Example.org",
      "https:\\\\relay.example.org",
    ]) {
      expect(await register(url), url).toEqual({ status: 400, code: "VALIDATION_FAILED" });
    }
    // Surrounding whitespace is trimmed by the schema, so the signed string no longer matches: refused too.
    for (const url of ["https://relay.example.org ", "https://relay.example.org\t"])
      expect((await register(url)).status, JSON.stringify(url)).toBe(403);
  });

  it("takes public addresses and names", async () => {
    for (const url of ["https://relay.example.org", "http://93.184.216.34:8080", "http://[2606:4700::1]"]) {
      expect((await register(url)).status, url).toBe(201);
    }
  });
});
