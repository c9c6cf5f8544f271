import { type Coordinator, createCoordinator, SqliteStore } from "@streamrp2p/coordinator";
import { silentLogger } from "@streamrp2p/service";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coordinatorUrls, loadWatchConfig, streamIdFromPath } from "../web/watch/watch-config.ts";

describe("the watch page names the coordinator's replicas", () => {
  let coordinator: Coordinator;
  beforeAll(async () => {
    coordinator = createCoordinator(
      {
        port: 0,
        dataDir: ":memory:",
        // Not a URL a browser should be sent to: left out of the config (defence in depth: the CLI checks URLs).
        replicaUrls: ["http://b.example:7700", "javascript:alert(1)", "http://c.example/</script>"],
      },
      { store: new SqliteStore(":memory:"), log: silentLogger },
    );
    await coordinator.start();
  });
  afterAll(() => coordinator?.stop());

  it("serves the replicas as JSON, each one a URL of http(s)", async () => {
    const res = await fetch(`${coordinator.url}/v1/watch-config`);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(await res.json()).toEqual({
      replicaUrls: ["http://b.example:7700", "http://c.example/</script>"],
    });
  });

  it("gives the player the page's own origin first, then the other replicas", async () => {
    const page = { origin: coordinator.url, pathname: "/watch/show" };
    expect(await loadWatchConfig(page)).toEqual({
      streamId: "show",
      coordinatorUrls: [coordinator.url, "http://b.example:7700", "http://c.example/</script>"],
    });
    // The page's own origin is not asked twice when it is listed as a replica.
    expect(coordinatorUrls("http://b.example:7700", { replicaUrls: ["http://b.example:7700"] })).toEqual([
      "http://b.example:7700",
    ]);
  });

  it("plays from the page's origin when the config is missing or not a config", async () => {
    expect(coordinatorUrls("http://a", { replicaUrls: ["ftp://x"] })).toEqual(["http://a"]);
    expect(coordinatorUrls("http://a", "<html>")).toEqual(["http://a"]);
    const refused = { origin: "http://127.0.0.1:1", pathname: "/watch/show" };
    expect(await loadWatchConfig(refused)).toEqual({
      streamId: "show",
      coordinatorUrls: ["http://127.0.0.1:1"],
    });
  });

  it("reads the stream id from the page's address only when it is one", () => {
    expect(streamIdFromPath("/watch/show")).toBe("show");
    expect(streamIdFromPath("/watch/Bad!Id")).toBeUndefined();
    expect(streamIdFromPath("/watch/%ff")).toBeUndefined();
    expect(streamIdFromPath("/watch/a/b")).toBeUndefined();
    expect(streamIdFromPath("/dashboard")).toBeUndefined();
  });
});
