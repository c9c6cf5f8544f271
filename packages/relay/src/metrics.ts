import { Counter, createMetricsRegistry, Gauge, type Registry } from "@streamrp2p/service";

export interface RelayMetrics {
  registry: Registry;
  bytesServed: Counter<"kind">;
  requests: Counter<"kind" | "status">;
  segmentsIngested: Counter<"source">;
  partsIngested: Counter<"source">;
  /** Parts a pulled window announced, by what was done: verified, skipped (no signature check), deferred (over the budget). */
  partAnnouncements: Counter<"result">;
  rejectedPuts: Counter<"code">;
  upstreamFailures: Counter;
  reparents: Counter;
  connections: Gauge;
  streams: Gauge;
  tlsRenewals: Counter;
  tlsFailures: Counter;
  /** Seconds until the served certificate expires, read from the certificate manager at scrape time. */
  tlsExpiry: { setCollector(read: () => number): void };
  /** Plain running totals for heartbeats (cheaper than reading counters back). */
  totals: { bytesServed: number };
}

export function createRelayMetrics(): RelayMetrics {
  const registry = createMetricsRegistry("relay", true);
  return {
    registry,
    bytesServed: new Counter({
      name: "srp_relay_bytes_served_total",
      help: "Bytes sent to viewers and downstream relays",
      labelNames: ["kind"],
      registers: [registry],
    }),
    requests: new Counter({
      name: "srp_relay_requests_total",
      help: "Media requests by kind and status",
      labelNames: ["kind", "status"],
      registers: [registry],
    }),
    segmentsIngested: new Counter({
      name: "srp_relay_segments_ingested_total",
      help: "Verified segments added to the cache",
      labelNames: ["source"],
      registers: [registry],
    }),
    partsIngested: new Counter({
      name: "srp_relay_parts_ingested_total",
      help: "Verified LL-HLS parts added to the cache",
      labelNames: ["source"],
      registers: [registry],
    }),
    partAnnouncements: new Counter({
      name: "srp_relay_part_announcements_total",
      help: "LL-HLS parts announced by upstream windows: verified, skipped before any signature check, deferred",
      labelNames: ["result"],
      registers: [registry],
    }),
    rejectedPuts: new Counter({
      name: "srp_relay_rejected_puts_total",
      help: "Pushes refused, by error code",
      labelNames: ["code"],
      registers: [registry],
    }),
    upstreamFailures: new Counter({
      name: "srp_relay_upstream_failures_total",
      help: "Failed upstream fetches",
      registers: [registry],
    }),
    reparents: new Counter({
      name: "srp_relay_reparents_total",
      help: "Upstream replacements",
      registers: [registry],
    }),
    connections: new Gauge({
      name: "srp_relay_connections",
      help: "Open client connections",
      registers: [registry],
    }),
    streams: new Gauge({ name: "srp_relay_streams", help: "Streams held in memory", registers: [registry] }),
    tlsRenewals: new Counter({
      name: "srp_relay_tls_renewals_total",
      help: "Certificates renewed (ACME) or reloaded (files) while serving",
      registers: [registry],
    }),
    tlsFailures: new Counter({
      name: "srp_relay_tls_renewal_failures_total",
      help: "Failed certificate renewals or reloads (the current certificate stays served)",
      registers: [registry],
    }),
    tlsExpiry: expiryGauge(registry),
    totals: { bytesServed: 0 },
  };
}

function expiryGauge(registry: Registry): RelayMetrics["tlsExpiry"] {
  let read: (() => number) | undefined;
  new Gauge({
    name: "srp_relay_tls_cert_expiry_seconds",
    help: "Seconds until the served TLS certificate expires (absent without TLS)",
    registers: [registry],
    collect() {
      if (read) this.set(read());
    },
  });
  return {
    setCollector(r) {
      read = r;
    },
  };
}
