import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { CoordinatorClient } from "@streamrp2p/api-client";
import { type Coordinator, createCoordinator, SqliteStore } from "@streamrp2p/coordinator";
import { signStreamRegistration } from "@streamrp2p/protocol";
import { silentLogger } from "@streamrp2p/service";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newAccount } from "../../../test/support/fixtures.ts";
import { tempDir } from "../../../test/support/tools.ts";

/**
 * Review of issue 10, finding 9 (SSRF): a node URL that passes the registration
 * check can answer the prober with a redirect to an internal address. The
 * prober must not follow it.
 */
describe("attack: a node redirects the prober to an internal service", () => {
  let coordinator: Coordinator;
  let internal: Server;
  let redirector: Server;
  let internalHits = 0;
  let redirectorUrl = "";

  const listen = async (server: Server) => {
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };

  beforeAll(async () => {
    internal = createServer((_req, res) => {
      internalHits += 1;
      res.end("internal-secret");
    });
    const internalUrl = await listen(internal);
    redirector = createServer((req, res) => {
      res.writeHead(302, { location: `${internalUrl}${req.url}` }).end();
    });
    redirectorUrl = await listen(redirector);
    const dir = join(tempDir("probe-redirect"), "db");
    coordinator = createCoordinator(
      { port: 0, dataDir: dir, probeIntervalMs: 0, recordIntervalMs: 0 },
      { store: new SqliteStore(dir), log: silentLogger },
    );
    await coordinator.start();
    const client = new CoordinatorClient({ baseUrl: coordinator.url });
    await client.registerStream(await signStreamRegistration(newAccount(), "show", Date.now()));
  });
  afterAll(async () => {
    await coordinator?.stop();
    internal?.close();
    redirector?.close();
  });

  it("records a failed probe and never reaches the redirect's target", async () => {
    const row = await coordinator.accounting.probe(newAccount().address.toLowerCase(), redirectorUrl, "show");
    expect(row.ok).toBe(false);
    expect(row.error).toMatch(/redirect/);
    expect(internalHits).toBe(0);
  });
});
