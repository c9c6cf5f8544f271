import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SegmentRecorder, SqliteStore } from "@streamrp2p/coordinator";
import { OFF_CHAIN_DOMAIN } from "@streamrp2p/protocol";
import type { Relay } from "@streamrp2p/relay";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  newAccount,
  putObject,
  signedObject,
  signedRungObject,
  startStaticRelay,
} from "../../../test/support/fixtures.ts";
import { tempDir } from "../../../test/support/tools.ts";

/**
 * Issue 10, finding 5: the segment ledger trusted the first ingest relay that
 * answered, so an ingest relay that hid segments shrank the ledger, and with
 * it every honest node's plausible credit.
 */
describe("attack: an ingest relay hides segments from the segment ledger", () => {
  const streamer = newAccount();
  let honest: Relay;
  let hider: Server;
  let hiderUrl: string;

  beforeAll(async () => {
    honest = await startStaticRelay({ show: streamer.address });
    await putObject(honest.url, "show", await signedObject(streamer, "show", "init", 0, 100));
    for (let seq = 0; seq < 6; seq++)
      await putObject(honest.url, "show", await signedObject(streamer, "show", "segment", seq, 1000));
    // A real relay's window, minus every segment after seq 1.
    hider = createServer((req, res) => {
      void (async () => {
        const up = await fetch(`${honest.url}${req.url}`);
        const win = (await up.json()) as { segments: Array<{ attestation: { seq: number } }> };
        win.segments = win.segments.filter((s) => s.attestation.seq <= 1);
        res.writeHead(up.status, { "content-type": "application/json" }).end(JSON.stringify(win));
      })().catch(() => res.destroy());
    });
    await new Promise<void>((r) => hider.listen(0, "127.0.0.1", () => r()));
    hiderUrl = `http://127.0.0.1:${(hider.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    hider?.close();
    await honest?.stop();
  });

  it("records the union of every ingest relay's verified window, whichever answers first", async () => {
    const store = new SqliteStore(tempDir("ledger"));
    await store.migrate();
    const recorder = new SegmentRecorder(store.accounting, OFF_CHAIN_DOMAIN);
    await recorder.record([
      { streamId: "show", signer: streamer.address.toLowerCase(), urls: [hiderUrl, honest.url] },
    ]);
    const rows = await store.accounting.segmentsBetween("show", 0, Date.now() + 1_000);
    expect(rows.filter((r) => r.rendition === "main").map((r) => r.seq)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it("keeps nothing a relay lists under a forged signature", async () => {
    const store = new SqliteStore(tempDir("ledger-forged"));
    await store.migrate();
    const forger = newAccount();
    const liar = await startStaticRelay({ show: forger.address });
    try {
      await putObject(liar.url, "show", await signedObject(forger, "show", "init", 0, 100));
      await putObject(liar.url, "show", await signedObject(forger, "show", "segment", 100, 1000));
      const recorder = new SegmentRecorder(store.accounting, OFF_CHAIN_DOMAIN);
      await recorder.record([{ streamId: "show", signer: streamer.address.toLowerCase(), urls: [liar.url] }]);
      expect(await store.accounting.segmentsBetween("show", 0, Date.now() + 1_000)).toEqual([]);
    } finally {
      await liar.stop();
    }
  });
});

describe("segment ledger: an adaptive-bitrate ladder", () => {
  it("records every rung's window (each verified for its rung); the cap's yardstick is the largest rung per seq", async () => {
    const streamer = newAccount();
    const relay = await startStaticRelay({ show: streamer.address });
    try {
      await putObject(relay.url, "show", await signedObject(streamer, "show", "init", 0, 100));
      await putObject(relay.url, "show", await signedRungObject(streamer, "show", "720p", "init", 0, 100));
      for (let seq = 0; seq < 3; seq++) {
        await putObject(relay.url, "show", await signedObject(streamer, "show", "segment", seq, 1000));
        // A rung above the source (a low-bitrate streamer): it, not the source, bounds a second's credit
        // (up to MAX_RUNG_TO_SOURCE times the source's: rung sizes are the streamer's to sign).
        await putObject(
          relay.url,
          "show",
          await signedRungObject(streamer, "show", "720p", "segment", seq, 3000),
        );
      }
      const store = new SqliteStore(tempDir("ledger-ladder"));
      await store.migrate();
      const recorder = new SegmentRecorder(store.accounting, OFF_CHAIN_DOMAIN);
      expect(
        await recorder.record([
          { streamId: "show", signer: streamer.address.toLowerCase(), urls: [relay.url] },
        ]),
      ).toBe(3);
      const rows = await store.accounting.segmentsBetween("show", 0, Date.now() + 1_000);
      expect(rows.map((r) => [r.seq, r.byteLength])).toEqual([
        // The 720p rung bounds the second, counted for at most MAX_RUNG_TO_SOURCE (2) sources.
        [0, 2000],
        [1, 2000],
        [2, 2000],
      ]);
      expect(recorder.edgeOf("show")).toBe(2);
    } finally {
      await relay.stop();
    }
  });
});
