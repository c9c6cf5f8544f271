import { describe, expect, it } from "vitest";
import { TicketLimits } from "../src/accounting/ticket-limits.ts";

describe("attack: ticket farming from one IPv6 /48 (65,536 /64 budgets)", () => {
  const t = 1_000_000;
  const limits = () => new TicketLimits({ ticketBurst: 2, ticketsPerMinute: 1 }, () => t);
  const slash64 = (site: number, i: number) => `2001:db8:${site.toString(16)}:${i.toString(16)}::1`;

  it("grants one /48 its site budget (64 bursts) however many /64s ask, then refuses; another /48 is another budget", () => {
    const l = limits();
    let granted = 0;
    for (let i = 0; i < 500; i++) if (l.take(slash64(0xbeef, i))) granted++;
    expect(granted).toBe(2 * 64);
    expect(l.take(slash64(0xbeef, 9999))).toBe(false);
    expect(l.take(slash64(0xcafe, 1))).toBe(true);
  });

  it("still limits one address (burst) and one /24 (4 bursts) first", () => {
    const l = limits();
    expect([l.take("10.0.0.1"), l.take("10.0.0.1"), l.take("10.0.0.1")]).toEqual([true, true, false]);
    let granted = 0;
    for (let i = 2; i < 50; i++) if (l.take(`10.0.0.${i}`)) granted++;
    expect(granted).toBe(2 * 4 - 2);
  });
});
