import { connect } from "node:net";
import { encodeAttestationHeader, HEADER_ATTESTATION } from "@streamrp2p/protocol";
import type { Relay } from "@streamrp2p/relay";
import { afterEach, describe, expect, it } from "vitest";
import { newAccount, signedObject, startStaticRelay } from "../support/fixtures.ts";

/**
 * Review of "Merge workers": workers/proxy.ts drops Transfer-Encoding (hop by
 * hop) and pipes the body on; node:http sends a GET/HEAD/DELETE body with no
 * framing at all, so the primary reads the client's body as the next request
 * on the pooled connection: a request the client never sent as one (smuggling).
 */
const streamer = newAccount();

describe.each([1, 2])("relay with workers=%i", (workers) => {
  let relay: Relay | undefined;
  afterEach(async () => {
    await relay?.stop();
  });

  it("never runs a request hidden in another request's body", async () => {
    relay = await startStaticRelay({ demo: streamer.address }, { workers });
    const init = await signedObject(streamer, "demo", "init", 0, 2000);
    const hidden = Buffer.concat([
      Buffer.from(
        `PUT /live/demo/${init.file} HTTP/1.1\r\nHost: x\r\n${HEADER_ATTESTATION}: ${encodeAttestationHeader(init.att)}\r\n` +
          `Content-Length: ${init.bytes.length}\r\n\r\n`,
      ),
      init.bytes,
    ]);
    const { port } = new URL(relay.url);
    const answer = await new Promise<string>((resolve, reject) => {
      const s = connect(Number(port), "127.0.0.1", () => {
        s.write("GET /v1/receipts HTTP/1.1\r\nHost: relay\r\nTransfer-Encoding: chunked\r\n\r\n");
        s.write(
          Buffer.concat([
            Buffer.from(`${hidden.length.toString(16)}\r\n`),
            hidden,
            Buffer.from("\r\n0\r\n\r\n"),
          ]),
        );
      });
      let got = "";
      s.on("data", (d: Buffer) => {
        got += d.toString("latin1");
        if (got.includes("\r\n\r\n"))
          setTimeout(() => {
            s.destroy();
            resolve(got);
          }, 500);
      });
      s.on("error", reject);
    });
    expect(answer.startsWith("HTTP/1.1 200")).toBe(true); // the GET, answered
    await new Promise((r) => setTimeout(r, 500));
    // One process ignores a GET's body. Through a worker, the primary ran the hidden PUT.
    expect(relay.stream("demo")?.hasInit(0) ?? false).toBe(false);
  }, 60_000);
});
