import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { type Coordinator, createCoordinator, SqliteStore } from "@streamrp2p/coordinator";
import { silentLogger } from "@streamrp2p/service";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../../../test/support/tools.ts";

/** One request written byte for byte (fetch would normalise `..` and encodings away before sending). */
async function raw(base: string, target: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(base);
  const reply = await new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = connect(Number(port), hostname, () => {
      s.write(`GET ${target} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`);
    });
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("end", () => resolve(Buffer.concat(chunks).toString("latin1")));
    s.on("error", reject);
  });
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(reply)?.[1]);
  return { status, body: reply.slice(reply.indexOf("\r\n\r\n") + 4) };
}

async function start(webDir?: string): Promise<Coordinator> {
  const c = createCoordinator(
    { port: 0, dataDir: ":memory:" },
    { store: new SqliteStore(":memory:"), log: silentLogger, ...(webDir ? { webDir } : {}) },
  );
  await c.start();
  return c;
}

describe("the pages the coordinator serves, from the build", () => {
  let coordinator: Coordinator;
  beforeAll(async () => {
    coordinator = await start(); // the default dist/web, built by the test global setup
  });
  afterAll(() => coordinator?.stop());

  it("serves the watch page, the dashboard, their files and the player with their content types", async () => {
    const cases: [string, string, string][] = [
      ["/watch/show", "text/html; charset=utf-8", 'src="/assets/watch.js"'],
      ["/dashboard", "text/html; charset=utf-8", 'src="/assets/dashboard.js"'],
      ["/assets/watch.js", "text/javascript; charset=utf-8", "StreamrP2P"],
      ["/assets/watch.css", "text/css; charset=utf-8", "video"],
      ["/assets/dashboard.js", "text/javascript; charset=utf-8", "/v1/streams"],
      ["/assets/dashboard.css", "text/css; charset=utf-8", ".tile"],
      ["/player/player.js", "text/javascript; charset=utf-8", "StreamrP2P"],
      ["/player/player.js.map", "application/json; charset=utf-8", '"mappings"'],
    ];
    for (const [path, type, text] of cases) {
      const res = await fetch(`${coordinator.url}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-type"), path).toBe(type);
      expect(res.headers.get("x-content-type-options"), path).toBe("nosniff");
      expect(res.headers.get("cache-control"), path).toBe("no-cache");
      expect(res.headers.get("etag"), path).toMatch(/^"[0-9a-f]{32}"$/);
      expect(await res.text(), path).toContain(text);
    }
    const dashboard = await fetch(`${coordinator.url}/dashboard`);
    expect(dashboard.headers.get("content-security-policy")).toBe("default-src 'self'");
  });

  it("answers a revalidation with 304 and no body, and a changed ETag with the file", async () => {
    const first = await fetch(`${coordinator.url}/assets/watch.js`);
    const etag = first.headers.get("etag") ?? "";
    const again = await fetch(`${coordinator.url}/assets/watch.js`, { headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);
    expect(again.headers.get("etag")).toBe(etag);
    expect(await again.text()).toBe("");
    const weakInList = await fetch(`${coordinator.url}/assets/watch.js`, {
      headers: { "if-none-match": `"other", W/${etag}` },
    });
    expect(weakInList.status).toBe(304);
    const stale = await fetch(`${coordinator.url}/assets/watch.js`, {
      headers: { "if-none-match": '"old"' },
    });
    expect(stale.status).toBe(200);
    expect((await stale.arrayBuffer()).byteLength).toBe((await first.arrayBuffer()).byteLength);
  });

  it("keeps the checks it had: a bad stream id is a 400, an unknown player file a 404, HEAD has no body", async () => {
    expect((await fetch(`${coordinator.url}/watch/Bad!Id`)).status).toBe(400);
    expect((await fetch(`${coordinator.url}/player/other.js`)).status).toBe(404);
    expect((await fetch(`${coordinator.url}/player/watch.js`)).status).toBe(404);
    const head = await fetch(`${coordinator.url}/dashboard`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get("content-length"))).toBeGreaterThan(0);
  });
});

describe("the pages' file server under attack", () => {
  const root = tempDir("web-attack");
  const webDir = join(root, "web");
  const SECRET = "top-secret-outside-the-build";
  let coordinator: Coordinator;

  beforeAll(async () => {
    mkdirSync(join(webDir, "sub.js"), { recursive: true }); // a directory with a servable name
    writeFileSync(join(root, "secret.js"), SECRET);
    writeFileSync(join(root, "web.js"), SECRET); // a sibling whose name starts like the build dir
    writeFileSync(join(webDir, "unlisted.js"), SECRET); // in the directory, not in the manifest
    writeFileSync(join(webDir, "page.js"), "ok");
    const entry = (s: string) => ({ sha256: createHash("sha256").update(s).digest("hex"), bytes: s.length });
    writeFileSync(
      join(webDir, "manifest.json"),
      JSON.stringify({ files: { "page.js": entry("ok"), "sub.js": entry("") } }),
    );
    coordinator = await start(webDir);
  });
  afterAll(() => coordinator?.stop());

  it("serves what the manifest lists and nothing else, however the path is spelled: 400 or 404, never 500", async () => {
    expect((await raw(coordinator.url, "/assets/page.js")).status).toBe(200);
    const attacks = [
      "/assets/../secret.js",
      "/assets/..%2fsecret.js",
      "/assets/..%2Fsecret.js",
      "/assets/%2e%2e%2fsecret.js",
      "/assets/%2E%2E/secret.js",
      "/assets/.%2e/secret.js",
      "/assets/..%5csecret.js",
      "/assets/..\\secret.js",
      "/assets/%2e%2e%5c%2e%2e%5csecret.js",
      "/assets/..%252fsecret.js",
      "/assets/%2fetc%2fpasswd",
      "/assets//etc/passwd",
      "/assets/%00",
      "/assets/page.js%00.js",
      "/assets/page.js%2f",
      "/assets/.",
      "/assets/..",
      "/assets/",
      "/assets/.manifest.js",
      "/assets/manifest.json",
      "/assets/unlisted.js",
      "/assets/%ff",
      "/assets/%",
      `/assets/${"a".repeat(5000)}.js`,
      "/player/..%2fsecret.js",
      "/player/..%2f..%2fweb.js",
      "/watch/..%2f..%2fsecret.js",
      "/dashboard/..%2fsecret.js",
      "//assets/../../secret.js",
      "/assets/page.js/..%2f..%2fsecret.js",
      "/ASSETS/page.js",
      "/assets/constructor",
      "/assets/__proto__.js",
      "/assets/hasOwnProperty.js",
    ];
    for (const target of attacks) {
      const res = await raw(coordinator.url, target);
      expect([400, 404], `${target} → ${res.status}`).toContain(res.status);
      expect(res.body, target).not.toContain(SECRET);
    }
    // A name the manifest lists but that is a directory on disk: the build is broken, said as such.
    const dir = await raw(coordinator.url, "/assets/sub.js");
    expect(dir.status).toBe(503);
    expect(dir.body).toContain("UNAVAILABLE");
  });
});

describe("the pages before `npm run build`", () => {
  it("says so with a 503 on every page and file, and the API still works", async () => {
    const empty = tempDir("web-unbuilt");
    const coordinator = await start(empty);
    try {
      for (const path of ["/watch/show", "/dashboard", "/assets/watch.js", "/player/player.js"]) {
        const res = await fetch(`${coordinator.url}${path}`);
        expect(res.status, path).toBe(503);
        const body = (await res.json()) as { error: { code: string; message: string } };
        expect(body.error.code).toBe("UNAVAILABLE");
        expect(body.error.message).toContain("npm run build");
      }
      expect((await fetch(`${coordinator.url}/v1/streams`)).status).toBe(200);
    } finally {
      await coordinator.stop();
    }
  });

  it("refuses a half-written manifest and a listed file that is missing with a 503", async () => {
    const dir = tempDir("web-partial");
    writeFileSync(join(dir, "manifest.json"), '{"files": {"watch.html": ');
    const coordinator = await start(dir);
    try {
      expect((await fetch(`${coordinator.url}/dashboard`)).status).toBe(503);
      writeFileSync(
        join(dir, "manifest.json"),
        JSON.stringify({ files: { "dashboard.html": { sha256: "0".repeat(64), bytes: 1 } } }),
      );
      const missing = await fetch(`${coordinator.url}/dashboard`);
      expect(missing.status).toBe(503);
      expect(((await missing.json()) as { error: { message: string } }).error.message).toContain(
        "dashboard.html is missing",
      );
    } finally {
      await coordinator.stop();
    }
  });
});
