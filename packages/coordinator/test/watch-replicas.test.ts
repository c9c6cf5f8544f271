import { type Coordinator, createCoordinator, SqliteStore } from "@streamrp2p/coordinator";
import { silentLogger } from "@streamrp2p/service";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

describe("the watch page names the coordinator's replicas", () => {
  let coordinator: Coordinator;
  beforeAll(async () => {
    coordinator = createCoordinator(
      {
        port: 0,
        dataDir: ":memory:",
        // A configured string cannot end the page's script element (defence in depth: the CLI checks URLs).
        replicaUrls: ["http://b.example:7700", "http://c.example/</script><script>alert(1)//"],
      },
      { store: new SqliteStore(":memory:"), log: silentLogger },
    );
    await coordinator.start();
  });
  afterAll(() => coordinator?.stop());

  it("gives the player the page's own origin first, then the replicas, escaped inside the script", async () => {
    const html = await (await fetch(`${coordinator.url}/watch/show`)).text();
    expect(html).toContain('const replicas = ["http://b.example:7700","http://c.example/\\u003c/script>');
    expect(html).toContain(
      "coordinatorUrls: [location.origin, ...replicas.filter((u) => u !== location.origin)]",
    );
    expect(html.match(/<\/script>/g)?.length).toBe(2); // the bundle's and the page's own
  });
});
