import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { importEd25519Private, signProbeTask } from "@streamrp2p/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  rssKiB,
  type ServiceProcess,
  startCoordinatorProcess,
  startRelayProcess,
} from "../support/processes.ts";
import { tempDir } from "../support/tools.ts";

/**
 * Issue 10 (second review): a relay runs probe tasks the coordinator signs,
 * and a task's URL is some node's registered URL. A node whose name passes
 * registration but resolves to an internal address (127.0.0.1.nip.io, a
 * rebinding DNS server) would turn every relay into a proxy to its own
 * internal services. A relay on a public network (`--node-addresses public`)
 * checks the address it connects to, for names and literals alike. Separate
 * processes; the coordinator signs the tasks, so only the address rule stands
 * in the way.
 */
describe("attack: SSRF through probe go-betweens", () => {
  const dir = tempDir("probe-ssrf");
  let coordinator: ServiceProcess;
  let guarded: ServiceProcess;
  let open: ServiceProcess;
  let internal: Server;
  let internalPort = 0;
  let connections = 0;

  const nodeIdOf = (p: ServiceProcess) => {
    const id = /relay (0x[0-9a-fA-F]{40})/.exec(p.output())?.[1];
    if (!id) throw new Error(`no node id in ${p.name}'s output:\n${p.output()}`);
    return id as `0x${string}`;
  };

  async function runTask(relay: ServiceProcess, url: string) {
    const key = await importEd25519Private(
      readFileSync(join(dir, "coordinator", "ticket.key"), "utf8").trim(),
    );
    const task = await signProbeTask(key.privateKey, {
      url,
      method: "GET",
      headers: {},
      via: nodeIdOf(relay),
      nonce: crypto
        .getRandomValues(new Uint8Array(16))
        .reduce((s, b) => s + b.toString(16).padStart(2, "0"), ""),
      issuedAt: Date.now(),
    });
    const res = await fetch(`${relay.url}/v1/probe`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(task),
    });
    return { status: res.status, body: await res.text() };
  }

  beforeAll(async () => {
    internal = createServer((req, res) => {
      if (req.url === "/endless") {
        // Chunked, no length: 64 KiB at a time for as long as the reader reads.
        const chunk = Buffer.alloc(64 * 1024, 1);
        const pump = () => {
          while (res.write(chunk)) if (res.destroyed) return;
        };
        res.on("drain", pump);
        pump();
        return;
      }
      res.end("internal admin page");
    });
    internal.on("connection", () => connections++);
    await new Promise<void>((r) => internal.listen(0, "0.0.0.0", () => r()));
    internalPort = (internal.address() as AddressInfo).port;
    coordinator = await startCoordinatorProcess(dir);
    guarded = await startRelayProcess("guarded", coordinator.url, dir, {
      args: ["--node-addresses", "public"],
    });
    open = await startRelayProcess("local", coordinator.url, dir);
  }, 60_000);
  afterAll(async () => {
    await guarded?.stop();
    await open?.stop();
    await coordinator?.stop();
    await new Promise<void>((r) => internal?.close(() => r()));
  });

  it("a relay on a public network connects to no internal address, by name or literal; it answers UPSTREAM_FAILED (the probed node's fault)", async () => {
    const targets = [
      `http://127.0.0.1:${internalPort}/admin`,
      `http://localhost:${internalPort}/admin`, // a name, resolved through /etc/hosts
      `http://[::ffff:127.0.0.1]:${internalPort}/admin`,
      `http://0.0.0.0:${internalPort}/admin`,
      "http://169.254.169.254/latest/meta-data/",
    ];
    for (const url of targets) {
      const { status, body } = await runTask(guarded, url);
      expect(status, `${url}: ${body}`).toBe(502);
      const error = (JSON.parse(body) as { error: { code: string; message: string } }).error;
      expect(error.code).toBe("UPSTREAM_FAILED");
      expect(error.message, url).toMatch(/not a public address/);
    }
    expect(connections).toBe(0);
    expect(guarded.exited).toBeUndefined();
  });

  it("the same task at a relay of a local network (coordinator on loopback: 'auto' is 'any') reaches the server: the rule above is what stops it", async () => {
    const { status, body } = await runTask(open, `http://127.0.0.1:${internalPort}/admin`);
    expect(status, body).toBe(200);
    expect(body).toBe("internal admin page");
    expect(connections).toBe(1);
  });

  it("a probed node that streams an endless chunked body gets UPSTREAM_FAILED at 16 MiB; the relay does not buffer it", async () => {
    const before = rssKiB(open.pid);
    const { status, body } = await runTask(open, `http://127.0.0.1:${internalPort}/endless`);
    expect(status, body).toBe(502);
    expect(body).toMatch(/over 16777216/);
    expect(rssKiB(open.pid) - before).toBeLessThan(200 * 1024); // KiB: no gigabytes held
    expect(open.exited).toBeUndefined();
  });
});
