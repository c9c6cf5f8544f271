import { CoordinatorClient } from "@streamrp2p/api-client";
import type { Relay } from "@streamrp2p/relay";
import type { Browser } from "playwright-core";
import { formatEther } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, screenshot } from "../support/browser.ts";
import { type LiveTestNetwork, startLiveTestNetwork } from "../support/live-network.ts";
import { SimulatedViewer } from "../support/sim-viewer.ts";
import { waitUntil } from "../support/tools.ts";

describe("dashboard in Debian chromium: the network and a node's operator view", () => {
  let live: LiveTestNetwork;
  let browser: Browser;
  const viewers: SimulatedViewer[] = [];

  beforeAll(async () => {
    live = await startLiveTestNetwork("dashboard", {
      epochMs: 3_000,
      probeIntervalMs: 1_000,
      receiptSubmitIntervalMs: 1_000,
      chain: { disputeWindowSeconds: 1, poolFunding: 1_000, epochBudget: 10 },
    });
    browser = await launchChromium();
  }, 90_000);
  afterAll(async () => {
    for (const v of viewers) await v.stop();
    await browser?.close();
    await live?.stop();
  });

  it("shows streams, nodes, load and charts, and for ?node= the same figures as `node status`", async () => {
    const { net } = live;
    const puller = net.relays[2] as Relay;
    for (let i = 0; i < 2; i++)
      viewers.push(await SimulatedViewer.start(net.coordinator.url, net.streamId, puller.nodeId));
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    await page.goto(`${net.coordinator.url}/dashboard?node=${puller.nodeId}`);

    // Live figures while the viewers watch.
    await waitUntil(
      "the dashboard to show the viewers on the node",
      async () => Number(await page.textContent("#node-viewers")) >= 2 || undefined,
      20_000,
    );
    expect(await page.textContent("#t-streams")).toBe("1");
    expect(await page.locator("#nodes tr").count()).toBe(3);
    expect(await page.locator(`#nodes tr[data-node="${puller.nodeId}"]`).count()).toBe(1);
    expect(await page.textContent("#streams")).toContain(net.streamId);
    expect(await page.textContent("#node-state")).toBe("healthy");
    expect(await page.locator("#egress-chart polyline").count()).toBe(1);
    expect(await page.locator("#node-reputation tr").count()).toBe(4);

    // Earnings once epochs settle on the dev chain: the page agrees with the API.
    const client = new CoordinatorClient({ baseUrl: net.coordinator.url });
    let last: unknown;
    const settled = await waitUntil(
      "rewards for the node on-chain and on the page",
      async () => {
        const s = await client.nodeStatus(puller.nodeId);
        last = s;
        const earned = s.rewards?.payees[0]?.earned;
        if (!earned || earned === "0" || s.epochs.length < 2) return undefined;
        return (await page.locator("#payees tr").count()) >= 1 ? s : undefined;
      },
      40_000,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}; last status ${JSON.stringify(last)}`);
    });
    for (const v of viewers.splice(0)) await v.stop();
    // Stable now (no viewers): compare a refresh of the page with the API.
    await new Promise((r) => setTimeout(r, 4_000));
    const s = await client.nodeStatus(puller.nodeId);
    const payee = s.rewards?.payees[0];
    await page.waitForFunction((t) => Number(document.body.dataset.updated) > t, Date.now());
    const cells = await page.locator("#payees tr").first().locator("td").allTextContents();
    expect(cells[0]).toBe(payee?.account);
    expect(cells[1]).toBe("operator");
    expect(Number(cells[3])).toBeCloseTo(Number(formatEther(BigInt(payee?.earned ?? "0"))), 3);
    expect(await page.textContent("#node-receipted")).toBe(`${(s.receipts.bytes / 1e6).toFixed(1)} MB`);
    expect(await page.locator("#epoch-chart rect").count()).toBe(s.epochs.length);
    expect(settled.epochs.length).toBeGreaterThanOrEqual(2);
    expect(await page.textContent("#error")).toBe("");
    expect(pageErrors).toEqual([]);
    await screenshot(page, "dashboard-node", true);
  }, 120_000);
});
