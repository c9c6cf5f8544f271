import { LiveStream, MediaObject } from "@streamrp2p/relay";
import { describe, expect, it } from "vitest";
import { newAccount, signedObject, signedRungObject } from "../../../test/support/fixtures.ts";

const streamer = newAccount();

/** Issue 10, finding 7: long-poll waiters were woken in O(n²) and not capped. */
describe("LiveStream long-polls", () => {
  it("refuses waiters past the cap (UNAVAILABLE) and wakes every ready one on the next segment", async () => {
    const s = new LiveStream("demo", streamer.address, {
      maxSegments: 10,
      playlistSegments: 3,
      maxWaitersPerStream: 1_000,
    });
    s.putInit(
      MediaObject.complete((await signedObject(streamer, "demo", "init", 0, 10)).att, 0, Buffer.alloc(10)),
    );
    const waits = Array.from({ length: 1_000 }, () => s.waitFor(0, 60_000));
    expect(s.waiters).toBe(1_000);
    await expect(s.waitFor(0, 60_000)).rejects.toMatchObject({ code: "UNAVAILABLE" });
    const seg = await signedObject(streamer, "demo", "segment", 0, 10);
    s.putSegment(MediaObject.complete(seg.att, 0, seg.bytes));
    await Promise.all(waits); // all woken at once, none left behind
    expect(s.waiters).toBe(0);
  });

  it("forgets a waiter whose time ran out", async () => {
    const s = new LiveStream("demo", streamer.address, {
      maxSegments: 10,
      playlistSegments: 3,
      maxWaitersPerStream: 10,
    });
    await s.waitFor(5, 20);
    expect(s.waiters).toBe(0);
  });

  it("computes the live edge blocked requests check once per change of the window", async () => {
    const s = new LiveStream("demo", streamer.address, {
      maxSegments: 10,
      playlistSegments: 3,
      maxWaitersPerStream: 10,
    });
    s.putInit(
      MediaObject.complete((await signedObject(streamer, "demo", "init", 0, 10)).att, 0, Buffer.alloc(10)),
    );
    const before = s.liveEdge();
    expect(s.liveEdge()).toBe(before); // the same object: nothing recomputed
    const seg = await signedObject(streamer, "demo", "segment", 0, 10);
    s.putSegment(MediaObject.complete(seg.att, 0, seg.bytes));
    expect(s.liveEdge()).not.toBe(before);
    expect(s.liveEdge().lastMsn).toBe(0);
  });
});

describe("LiveStream rung windows", () => {
  it("forgets a rung's failed init (as the source's), so the puller fetches it again", async () => {
    const s = new LiveStream("demo", streamer.address, {
      maxSegments: 10,
      playlistSegments: 3,
      maxWaitersPerStream: 10,
    });
    const rung = s.openRendition("360p");
    const init = await signedRungObject(streamer, "demo", "360p", "init", 0, 10);
    const obj = new MediaObject(init.att, 0);
    rung.putInit(obj);
    expect(rung.hasInit(0)).toBe(true);
    rung.remove(obj); // what the puller does when no upstream delivered the init in time
    expect(rung.hasInit(0)).toBe(false);
    // The source's init still goes the same way.
    const source = await signedObject(streamer, "demo", "init", 0, 10);
    const sobj = new MediaObject(source.att, 0);
    s.putInit(sobj);
    s.remove(sobj);
    expect(s.hasInit(0)).toBe(false);
  });
});
