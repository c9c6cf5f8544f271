import { createSocket } from "node:dgram";
import { spawnSrtListener } from "@streamrp2p/origin";
import { createLogger } from "@streamrp2p/service";
import { describe, expect, it } from "vitest";
import { requireFfmpeg } from "../../../test/support/tools.ts";

/** Issue 10, finding 9: ffmpeg's stderr, which echoes the SRT URL, was logged with the passphrase in it. */
describe("ffmpeg's output is logged without the stream key", () => {
  it("an SRT listener that fails (port taken) logs its error with the passphrase redacted", async () => {
    requireFfmpeg();
    const taken = createSocket("udp4");
    await new Promise<void>((r) => taken.bind(0, "127.0.0.1", () => r()));
    const port = taken.address().port;
    const lines: string[] = [];
    const log = createLogger("origin", { write: (line) => lines.push(line) });
    const passphrase = "sk_live_Secret/Key+with=odd&chars";
    const proc = spawnSrtListener("ffmpeg", "127.0.0.1", port, passphrase, 250, log);
    const exit = await new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
    await new Promise((r) => setTimeout(r, 50)); // the exit listener logs after the exit event
    taken.close();
    expect(exit).not.toBe(0);
    const text = lines.join("\n");
    expect(text).toContain("ffmpeg failed");
    expect(text).toContain("[redacted]");
    expect(text).not.toContain(passphrase);
    expect(text).not.toContain(encodeURIComponent(passphrase));
  }, 20_000);
});
