import { RateLimiter } from "../rate-limiter.ts";
import { siteOf, subnetOf, viewerAddressKey } from "./viewer-identity.ts";

/**
 * Ticket budgets, keyed without the stream (one client's tickets for many
 * streams are one budget): per viewer address (an IPv4 address, an IPv6
 * /64), per subnet (4×: a /24 of fake viewers runs dry too), and per site
 * (64×, IPv6 /48: one /48 is 65,536 /64 budgets, so without it a tunnel
 * broker's free grant could write sessions without bound; generous, because
 * carriers and campuses seat many honest devices in one /48).
 */
export class TicketLimits {
  readonly #address: RateLimiter;
  readonly #subnet: RateLimiter;
  readonly #site: RateLimiter;

  constructor(o: { ticketBurst: number; ticketsPerMinute: number }, now: () => number) {
    const limiter = (scale: number) =>
      new RateLimiter(o.ticketBurst * scale, (o.ticketsPerMinute * scale) / 60_000, now);
    this.#address = limiter(1);
    this.#subnet = limiter(4);
    this.#site = limiter(64);
  }

  /** Takes one ticket from each of the client's budgets; false (nothing more taken) once one is dry. */
  take(client: string): boolean {
    return (
      this.#address.take(viewerAddressKey(client)) &&
      this.#subnet.take(subnetOf(client)) &&
      this.#site.take(siteOf(client))
    );
  }
}
