import { computePayout, cumulate } from "@streamrp2p/chain";
import { describe, expect, it } from "vitest";

describe("computePayout", () => {
  it("splits each stream's draw by weight, then each node's reward between backers and operator", () => {
    const credits = [
      { nodeId: "0xa", streamId: "s", weight: 3_000 },
      { nodeId: "0xb", streamId: "s", weight: 1_000 },
      { nodeId: "0xa", streamId: "t", weight: 5 },
    ];
    const splits = new Map([["0xa", { operator: "0xop", backers: [{ account: "0xfan", bps: 2_500 }] }]]);
    const p = computePayout(
      credits,
      new Map([
        ["s", 1_000n],
        ["t", 7n],
      ]),
      splits,
    );
    expect(p.draws.get("s")).toBe(1_000n);
    expect(p.draws.get("t")).toBe(7n);
    // node a: 750 from s (+7 from t) = 757; backer 25 %: 187 + 1 = 188; operator 563 + 6 = 569; node b (no split): 250 to itself.
    expect(Object.fromEntries(p.amounts)).toEqual({ "0xfan": 188n, "0xop": 569n, "0xb": 250n });
  });

  it("never pays more than it draws, and draws nothing without weight", () => {
    const p = computePayout(
      [
        { nodeId: "0xa", streamId: "s", weight: 1 },
        { nodeId: "0xb", streamId: "s", weight: 1 },
        { nodeId: "0xc", streamId: "s", weight: 1 },
      ],
      new Map([["s", 10n]]),
      new Map(),
    );
    const paid = [...p.amounts.values()].reduce((a, b) => a + b, 0n);
    expect(paid).toBe(9n);
    expect(p.draws.get("s")).toBe(9n); // the 1-unit dust stays in the pool
    expect(
      computePayout([{ nodeId: "0xa", streamId: "s", weight: 0 }], new Map([["s", 10n]]), new Map()).draws
        .size,
    ).toBe(0);
  });

  it("accumulates across epochs for cumulative claims", () => {
    expect(
      Object.fromEntries(
        cumulate(
          new Map([["0xa", 5n]]),
          new Map([
            ["0xa", 2n],
            ["0xb", 1n],
          ]),
        ),
      ),
    ).toEqual({ "0xa": 7n, "0xb": 1n });
  });
});
