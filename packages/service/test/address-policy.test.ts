import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  guardedFetch,
  isAddressNotAllowed,
  isPublicAddress,
  publicOnlyLookup,
  type Resolver,
} from "../src/index.ts";

/** A resolver that answers from a table, as an attacker's DNS would (rebinding to internal addresses). */
const table =
  (entries: Record<string, string[]>): Resolver =>
  (hostname, _options, callback) => {
    const found = entries[hostname];
    if (!found)
      return callback(Object.assign(new Error(`no such host ${hostname}`), { code: "ENOTFOUND" }), []);
    callback(
      null,
      found.map((address) => ({ address, family: address.includes(":") ? 6 : 4 })),
    );
  };

describe("connect-time address policy (SSRF through names, literals and rebinding)", () => {
  let server: Server;
  let port = 0;
  let connections = 0;

  beforeAll(async () => {
    server = createServer((_req, res) => res.end("internal secret"));
    server.on("connection", () => connections++);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("classifies addresses: loopback, private, link-local, CGNAT, mapped and 6to4 are not public", () => {
    for (const a of [
      "127.0.0.1",
      "10.1.2.3",
      "172.16.0.1",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "::1",
      "::",
      "fe80::1",
      "fd00::1",
      "::ffff:127.0.0.1",
      "::ffff:10.0.0.1",
      "2002:7f00:1::1",
      "::ffff:0:7f00:1", // SIIT
      "2001:0:4136:e378::1", // Teredo
      "2001:db8::1",
      "fec0::1",
      "192.0.2.1",
      "255.255.255.255",
      "[::1]",
      "localhost",
    ])
      expect(isPublicAddress(a), a).toBe(false);
    for (const a of ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8"])
      expect(isPublicAddress(a), a).toBe(true);
  });

  it("under 'public', a name that resolves to loopback is refused before any connection", async () => {
    const f = guardedFetch(
      "public",
      table({ "rebind.example": ["127.0.0.1"], "mixed.example": ["8.8.8.8", "127.0.0.1"] }),
    );
    for (const host of ["rebind.example", "mixed.example"]) {
      const err = await f(`http://${host}:${port}/`, { redirect: "manual" }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isAddressNotAllowed(err), `${host}: ${String(err)}`).toBe(true);
    }
    expect(connections).toBe(0);
  });

  it("under 'public', literal internal addresses are refused before any connection", async () => {
    const f = guardedFetch("public", table({}));
    for (const url of [
      `http://127.0.0.1:${port}/`,
      `http://[::1]:${port}/`,
      `http://[::ffff:127.0.0.1]:${port}/`,
      "http://169.254.169.254/latest/meta-data/",
      `http://0.0.0.0:${port}/`,
    ]) {
      const err = await f(url, { redirect: "manual" }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isAddressNotAllowed(err), `${url}: ${String(err)}`).toBe(true);
    }
    expect(connections).toBe(0);
  });

  it("the lookup passes public addresses through in the form net.connect asked for", async () => {
    const lookup = publicOnlyLookup(table({ "node.example": ["8.8.8.8", "2606:4700::1111"] }));
    const one = await new Promise<unknown[]>((r) => lookup("node.example", {}, (...args) => r(args)));
    expect(one).toEqual([null, "8.8.8.8", 4]);
    const all = await new Promise<unknown[]>((r) =>
      lookup("node.example", { all: true }, (...args) => r(args)),
    );
    expect(all[1]).toEqual([
      { address: "8.8.8.8", family: 4 },
      { address: "2606:4700::1111", family: 6 },
    ]);
  });

  it("under 'any' (a network on one machine), internal addresses are reachable", async () => {
    const res = await guardedFetch("any")(`http://127.0.0.1:${port}/`);
    expect(await res.text()).toBe("internal secret");
    expect(connections).toBe(1);
  });
});
