import { generateEd25519 } from "@streamrp2p/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { siteOf, subnetOf, viewerAddressKey } from "../src/accounting/viewer-identity.ts";
import {
  AccountingHarness,
  type EpochBody,
  epochWatcher,
  ipv6Issuer,
  SEG,
} from "./support/accounting-harness.ts";

const total = (e: EpochBody) => e.credits.reduce((n, c) => n + c.creditedBytes, 0);

describe("attack: cheap fake viewers (issue 10, finding 2)", () => {
  const h = new AccountingHarness();
  beforeAll(() => h.start({}, ["show", "other"]));
  afterAll(() => h.stop());

  const watchAll = epochWatcher(h, ["show", "other"]);

  it("caps credit per IPv4 /24 across streams, whatever the addresses inside it", async () => {
    await h.closeEpoch(); // a fresh epoch, nothing pending
    // Eight addresses of one /24, four on each stream: each alone is under any per-address or per-stream cap.
    const fakes = await Promise.all(
      Array.from({ length: 8 }, (_, i) => h.viewer(i % 2 ? "other" : "show", `127.0.5.${i + 1}`)),
    );
    const capped = await watchAll(fakes);
    // 3 sessions' worth (maxSessionsPerSubnet) in all, not 8 (floor loses < 1 byte per session).
    expect(total(capped)).toBeLessThanOrEqual(3 * 20 * SEG);
    expect(total(capped)).toBeGreaterThanOrEqual(3 * 20 * SEG - 8);
    for (const c of capped.credits) expect(c.flags).toContain("identity-capped");

    // The same from eight /24s: eight real viewers' worth, unflagged.
    const real = await Promise.all(
      Array.from({ length: 8 }, (_, i) => h.viewer(i % 2 ? "other" : "show", `127.0.${10 + i}.1`)),
    );
    const honest = await watchAll(real);
    expect(total(honest)).toBe(8 * 20 * SEG);
    for (const c of honest.credits) expect(c.flags).toEqual([]);
  });

  it("caps credit per IPv6 /64, whatever text form the addresses take", async () => {
    const issue = ipv6Issuer(h);
    const sameSlash64 = [
      "2001:db8:a:b::1",
      "2001:db8:a:b:0:0:0:2",
      "2001:0db8:000a:000b::3",
      "2001:db8:a:b:ffff:ffff:ffff:ffff",
    ];
    const fakes = await Promise.all(sameSlash64.map((a) => issue(a)));
    const capped = await watchAll(fakes);
    expect(total(capped)).toBeLessThanOrEqual(3 * 20 * SEG);
    expect(total(capped)).toBeGreaterThanOrEqual(3 * 20 * SEG - 4);
    expect(capped.credits[0]?.flags).toContain("identity-capped");
    // Four /64s in four /48s are four viewers.
    const distinct = await Promise.all(
      ["2001:db8:a:c::1", "2001:db8:b:d::1", "2001:db8:c:e::1", "2001:db8:d:f::1"].map((a) => issue(a)),
    );
    expect(total(await watchAll(distinct))).toBe(4 * 20 * SEG);
  });

  it("parses IPv6 text forms to their /64 and /48 and IPv4-mapped addresses to their /24", () => {
    expect(siteOf("2001:db8:a:b::1")).toBe("2001:0db8:000a::/48");
    expect(siteOf("2001:0db8:000a:ffff:1:2:3:4")).toBe("2001:0db8:000a::/48");
    expect(siteOf("::ffff:10.1.2.3")).toBe("10.1.2.0/24");
    expect(siteOf("10.1.2.3")).toBe(subnetOf("10.1.2.3"));
    expect(subnetOf("2001:db8::1")).toBe("2001:0db8:0000:0000::/64");
    expect(subnetOf("2001:db8:0:0:1::1")).toBe("2001:0db8:0000:0000::/64");
    expect(subnetOf("2001:db8:1:2:3:4:5:6")).toBe("2001:0db8:0001:0002::/64");
    expect(subnetOf("fe80::1%eth0")).toBe("fe80:0000:0000:0000::/64");
    expect(subnetOf("::1")).toBe("0000:0000:0000:0000::/64");
    expect(subnetOf("::ffff:10.1.2.3")).toBe("10.1.2.0/24");
    expect(subnetOf("::ffff:a01:203")).toBe("10.1.2.0/24");
    expect(subnetOf("10.1.2.3")).toBe("10.1.2.0/24");
    expect(viewerAddressKey("::ffff:10.1.2.3")).toBe("10.1.2.3");
    expect(viewerAddressKey("2001:db8:a:b::9")).toBe("2001:0db8:000a:000b::/64");
    expect(subnetOf("unknown")).toBe("other:unknown");
  });

  it("withholds the credit of a node fed by few subnets (few-viewer-identities), not just flags it", async () => {
    // Six sessions from two /24s: each /24 stays within its cap, so only the collusion rule can act.
    const colluding = await Promise.all(
      Array.from({ length: 6 }, (_, i) => h.viewer("show", `127.0.${50 + (i % 2)}.${i + 1}`)),
    );
    const flagged = await watchAll(colluding);
    const row = flagged.credits.find((c) => c.streamId === "show");
    expect(row?.flags).toEqual(["few-viewer-identities"]);
    expect(row).toMatchObject({ creditedBytes: 0, weight: 0, claimedBytes: 6 * 20 * SEG });
    expect(flagged.inputs.withheld).toEqual([
      { nodeId: h.nodeId, streamId: "show", bytes: 6 * 20 * SEG, reason: "few-viewer-identities" },
    ]);
    // Six viewers from six /24s are paid in full.
    const spread = await Promise.all(
      Array.from({ length: 6 }, (_, i) => h.viewer("show", `127.0.${60 + i}.1`)),
    );
    const paid = await watchAll(spread);
    expect(paid.credits.find((c) => c.streamId === "show")?.creditedBytes).toBe(6 * 20 * SEG);
  });
});

describe("attack: ticket farming across streams (issue 10, finding 2)", () => {
  const h = new AccountingHarness();
  // 2 tickets per address, 8 per /24 (4× the address bucket), and a frozen clock: no refill.
  beforeAll(() => h.start({ ticketBurst: 2, ticketsPerMinute: 1 }, ["show", "other"]));
  afterAll(() => h.stop());

  const ask = async (stream: string, from: string) =>
    (await h.post(`/v1/streams/${stream}/sessions`, { viewerKey: (await generateEd25519()).publicKey }, from))
      .status;

  it("limits tickets per address and per /24 across streams", async () => {
    expect([
      await ask("show", "127.0.40.1"),
      await ask("other", "127.0.40.1"),
      await ask("show", "127.0.40.1"),
    ]).toEqual([201, 201, 429]);
    const subnet: number[] = [];
    for (let i = 1; i <= 8; i++) subnet.push(await ask(i % 2 ? "show" : "other", `127.0.41.${i}`));
    expect(subnet).toEqual([201, 201, 201, 201, 201, 201, 201, 201]);
    expect([await ask("show", "127.0.41.100"), await ask("other", "127.0.41.101")]).toEqual([429, 429]);
    expect(await ask("other", "127.0.42.1")).toBe(201); // another /24 is another budget
  });
});

describe("attack: one IPv6 /48 as thousands of viewers (issue 13)", () => {
  // A fresh coordinator: what a stream produced in the epoch (lookback included) is this block's alone.
  const h = new AccountingHarness();
  beforeAll(() => h.start({}, ["show"]));
  afterAll(() => h.stop());

  const watchAll = epochWatcher(h, ["show"]);
  /** `count` addresses, each in its own /64 of the /48 `2001:db8:<site>::/48`. */
  const slash64s = (site: number, count: number) =>
    Array.from({ length: count }, (_, i) => `2001:db8:${site.toString(16)}:${i.toString(16)}::1`);

  it("credits one /48 spread over 40 /64s as one identity: 3 sessions' worth, not 40 viewers", async () => {
    await h.closeEpoch();
    const issue = ipv6Issuer(h);
    const fakes = await Promise.all(slash64s(0xbeef, 40).map((a) => issue(a)));
    const e = await watchAll(fakes);
    const row = e.credits.find((c) => c.streamId === "show");
    // Each /64 alone is one viewer under every per-subnet cap (and 40 subnets pass the few-identities
    // count); the /48 is one site, capped to 3 sessions' worth.
    expect(row).toMatchObject({ subnets: 40, claimedBytes: 40 * 20 * SEG });
    expect(total(e)).toBeLessThanOrEqual(3 * 20 * SEG);
    expect(total(e)).toBeGreaterThanOrEqual(3 * 20 * SEG - 40); // floor loses < 1 byte per session
    expect(row?.flags).toEqual(["identity-capped"]);
  });

  it("caps each /48 at three sessions' worth, however many /64s it uses", async () => {
    const issue = ipv6Issuer(h);
    // Three /48s (enough to escape the few-identities rule), 8 /64s each: 24 "viewers".
    const fakes = await Promise.all([1, 2, 3].flatMap((site) => slash64s(site, 8)).map((a) => issue(a)));
    const e = await watchAll(fakes);
    expect(total(e)).toBeLessThanOrEqual(3 * 3 * 20 * SEG);
    expect(total(e)).toBeGreaterThanOrEqual(3 * 3 * 20 * SEG - 24); // floor loses < 1 byte per session
    expect(e.credits.find((c) => c.streamId === "show")?.flags).toContain("identity-capped");
    // The same 24 sessions from 24 /48s are 24 viewers, unflagged.
    const honest = await Promise.all(
      Array.from({ length: 24 }, (_, i) => issue(`2001:db8:${(0x100 + i).toString(16)}:1::1`)),
    );
    const paid = await watchAll(honest);
    expect(total(paid)).toBe(24 * 20 * SEG);
    expect(paid.credits.find((c) => c.streamId === "show")?.flags).toEqual([]);
  });
});
