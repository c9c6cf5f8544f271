import {
  createMetricsRegistry,
  Router,
  type RunningHttpServer,
  silentLogger,
  startHttpService,
} from "@streamrp2p/service";
import { afterEach, describe, expect, it } from "vitest";

/** A server whose /slow answer takes `ms`; what a drain waits for. */
async function slowServer(ms: number): Promise<RunningHttpServer> {
  const router = new Router(silentLogger).on("GET", "/slow", (_req, res) => {
    res.writeHead(200, { "content-length": "5" });
    res.write("he");
    setTimeout(() => res.end("llo"), ms);
  });
  return startHttpService({
    host: "127.0.0.1",
    port: 0,
    router,
    metrics: createMetricsRegistry("close_test"),
    log: silentLogger,
  });
}

describe("closing an HTTP service", () => {
  let http: RunningHttpServer | undefined;
  afterEach(async () => {
    await http?.close();
  });

  it("with a grace, lets a response in progress finish and closes the idle keep-alive connection", async () => {
    http = await slowServer(300);
    await (await fetch(`${http.url}/healthz`)).text(); // a keep-alive connection, idle from now on
    const slow = fetch(`${http.url}/slow`).then((r) => r.text());
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await http.close(5_000);
    expect(await slow).toBe("hello");
    expect(Date.now() - started).toBeLessThan(2_000); // not the 65 s keep-alive timeout
    await expect(fetch(`${http.url}/healthz`)).rejects.toThrow();
  });

  it("cuts what has not finished when the grace runs out, and at once without one", async () => {
    http = await slowServer(10_000);
    const slow = fetch(`${http.url}/slow`).then((r) => r.text());
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await http.close(300);
    expect(Date.now() - started).toBeLessThan(2_000);
    await expect(slow).rejects.toThrow();

    http = await slowServer(10_000);
    const cut = fetch(`${http.url}/slow`).then((r) => r.text());
    await new Promise((r) => setTimeout(r, 50));
    await http.close();
    await expect(cut).rejects.toThrow();
  });
});
