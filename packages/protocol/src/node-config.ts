import { z } from "zod";
import { StreamIdSchema } from "./ids.ts";

/** true/false as YAML, JSON, env vars ("1", "yes") and flags give it; "false" is false. */
const BoolishSchema = z.union([
  z.boolean(),
  z
    .enum(["true", "false", "1", "0", "yes", "no", "on", "off"])
    .transform((v) => v === "true" || v === "1" || v === "yes" || v === "on"),
]);

/** Coordinator replicas one party may be given (they share one database; any answers any request). */
export const MAX_COORDINATOR_URLS = 16;

const CoordinatorUrlSchema = z.url({ protocol: /^https?$/, error: "coordinator: an http(s) URL" });

/**
 * One coordinator URL or several: a list, or one string with commas
 * ("https://a.example,https://b.example"). Out: the URLs without trailing
 * slashes, duplicates dropped, in the order given (tried in that order).
 */
export const CoordinatorUrlsSchema = z
  .union([z.string(), z.array(z.string())])
  .transform((v) =>
    (typeof v === "string" ? v.split(",") : v.flatMap((s) => s.split(",")))
      .map((s) => s.trim())
      .filter((s) => s !== ""),
  )
  .pipe(
    z
      .array(CoordinatorUrlSchema)
      .min(1, "coordinator: at least one URL")
      .max(MAX_COORDINATOR_URLS, `coordinator: at most ${MAX_COORDINATOR_URLS} URLs`),
  )
  .transform((urls) => [...new Set(urls.map((u) => u.replace(/\/+$/, "")))]);

/**
 * What a relay operator configures, from a YAML/JSON file, SRP_* environment
 * variables or flags (flags win, then env, then the file, then defaults).
 * Keys are camelCase here; `--kebab-case` as flags, `SRP_UPPER_SNAKE` in env.
 */
export const NodeConfigSchema = z
  .strictObject({
    /**
     * The coordinator's base URL, or its replicas' (a list, or commas in one
     * string), tried in order with failover; default: the one `streamrp2p up`
     * runs on this machine.
     */
    coordinator: CoordinatorUrlsSchema.default(["http://127.0.0.1:7700"]),
    host: z.string().min(1).default("127.0.0.1"),
    port: z.coerce.number().int().min(0).max(65_535).default(8080),
    /** URL others reach this node at (behind NAT or a proxy); default: the listening address. */
    publicUrl: z.url({ protocol: /^https?$/ }).optional(),
    region: z.string().min(1).max(64).default("local"),
    /** Egress offered, Mbit/s. */
    capacityMbps: z.coerce.number().positive().max(1_000_000).default(1000),
    /** Take pushes from origins (be an ingest relay). */
    ingest: BoolishSchema.default(false),
    /** Stream ids or streamer (signer) addresses to restream; empty: whatever the network needs. */
    support: z
      .array(
        z
          .string()
          .transform((s) => s.trim().toLowerCase())
          .pipe(StreamIdSchema),
      )
      .max(1000)
      .default([]),
    /** Where the node key and state live. */
    dataDir: z.string().min(1).default(".data/relay"),
    /** The node's private key file; default `<dataDir>/node.key`, created on first start. */
    keyFile: z.string().min(1).optional(),
    heartbeatIntervalMs: z.coerce.number().int().min(100).max(60_000).default(2_000),
    receiptSubmitIntervalMs: z.coerce.number().int().min(100).max(600_000).default(10_000),
    /** On SIGTERM: how long viewers and child relays get to move before the node goes. */
    drainGraceMs: z.coerce.number().int().min(0).max(600_000).default(5_000),
    /** On SIGTERM: the longest a drain may take, in-flight responses included. */
    drainTimeoutMs: z.coerce.number().int().min(0).max(3_600_000).default(30_000),
    /**
     * Which addresses node URLs may reach from this relay (upstreams, probe
     * tasks): "public" refuses loopback, private and link-local addresses at
     * connect time; "auto" is "any" when the coordinator is on loopback (one
     * machine), else "public"; a LAN network sets "any".
     */
    nodeAddresses: z.enum(["auto", "public", "any"]).default("auto"),
    logLevel: z.enum(["debug", "info", "warn", "error"]).default("info"),
    /** A client must send its request head within this (slowloris bound); service HTTP_SERVER_DEFAULTS has the rest. */
    headersTimeoutMs: z.coerce.number().int().min(100).max(60_000).default(10_000),
    /**
     * A client must send its whole request, body included, within this (HTTP/1.1 and each HTTP/2
     * stream; a 16 MB segment PUT needs ~2.2 Mbit/s at 60 s). Never cuts a response: long polls and
     * blocking playlist reloads answer requests that arrived whole.
     */
    requestTimeoutMs: z.coerce.number().int().min(100).max(600_000).default(60_000),
    /** An idle keep-alive connection (HTTP/1.1) or HTTP/2 session with no stream open is kept this long. */
    keepAliveTimeoutMs: z.coerce.number().int().min(1_000).max(600_000).default(65_000),
    /** No byte moving either way for this long closes a connection (a viewer that stopped reading); above the 8 s window long-poll. */
    idleTimeoutMs: z.coerce.number().int().min(10_000).max(600_000).default(30_000),
    /** Open connections at once; more are closed at accept. */
    maxConnections: z.coerce.number().int().min(16).max(1_000_000).default(4_096),
    /**
     * Processes serving viewers: 1 (default) = one process does everything;
     * N = a primary (ingest, pulling, receipts, heartbeats) and N workers that
     * serve from copies of its windows on the shared port; 0 or "auto" = one
     * worker per CPU core.
     */
    workers: z
      .union([z.literal("auto").transform(() => 0), z.coerce.number().int().min(0).max(256)])
      .default(1),
    /**
     * HTTPS: "off" (default: plain HTTP, as `up` runs), "acme" (a certificate
     * obtained and renewed over ACME http-01 for acmeIdentifier), "files"
     * (tlsCertFile and tlsKeyFile, re-read when they change). Serves HTTP/2
     * and HTTP/1.1; the node registers an https:// URL.
     */
    tls: z.enum(["off", "acme", "files"]).default("off"),
    /** The ACME CA's directory; default Let's Encrypt's production one. */
    acmeDirectory: z.url({ protocol: /^https?$/ }).default("https://acme-v02.api.letsencrypt.org/directory"),
    /** The ACME account's contact, e.g. mailto:ops@example.com. */
    acmeContact: z
      .string()
      .regex(/^mailto:[^\s@]+@[^\s@]+$/, "acmeContact: mailto:user@host")
      .optional(),
    /** The name the certificate is for: the relay's DNS name, or its public IP address (short-lived IP certificates). */
    acmeIdentifier: z
      .union([z.ipv4(), z.ipv6(), z.hostname().regex(/\./, "a fully qualified name")])
      .optional(),
    /**
     * The CA's certificate profile (ACME profiles draft), e.g. Let's Encrypt's
     * "shortlived" (6-day certificates, the only ones it issues for IP addresses).
     */
    acmeProfile: z
      .string()
      .regex(/^[a-zA-Z0-9_-]{1,64}$/)
      .optional(),
    /** The CA reaches the http-01 challenge here (plain HTTP, port 80 unless a proxy forwards it). */
    acmeChallengePort: z.coerce.number().int().min(1).max(65_535).default(80),
    /**
     * One request to the ACME CA, connect to last byte (ms): a frozen CA or one trickling its
     * answer fails the attempt after this; the current certificate stays served and the attempt
     * is retried with backoff (1 min doubling to 1 h).
     */
    acmeRequestTimeoutMs: z.coerce.number().int().min(1_000).max(300_000).default(15_000),
    /** Extra CA certificates (PEM file) to trust for the ACME directory's HTTPS: a private CA. */
    acmeCaFile: z.string().min(1).optional(),
    /** ACME account key and certificate (0600); default `<dataDir>/tls`. */
    tlsDir: z.string().min(1).optional(),
    /** tls: files: the certificate chain and key (PEM). */
    tlsCertFile: z.string().min(1).optional(),
    tlsKeyFile: z.string().min(1).optional(),
    /** Renew once this fraction of the certificate's lifetime is left (1/3: 30 days of 90, 2 of 6). */
    tlsRenewBeforeFraction: z.coerce
      .number()
      .gt(0)
      .lt(1)
      .default(1 / 3),
  })
  .superRefine((c, ctx) => {
    if (c.tls === "acme" && !c.acmeIdentifier)
      ctx.addIssue({
        code: "custom",
        path: ["acmeIdentifier"],
        message: "tls: acme needs the relay's DNS name or public IP",
      });
    if (c.tls === "files" && (!c.tlsCertFile || !c.tlsKeyFile))
      ctx.addIssue({
        code: "custom",
        path: ["tlsCertFile"],
        message: "tls: files needs tlsCertFile and tlsKeyFile",
      });
    if (c.headersTimeoutMs > c.requestTimeoutMs)
      ctx.addIssue({
        code: "custom",
        path: ["headersTimeoutMs"],
        message: "headersTimeoutMs must not exceed requestTimeoutMs",
      });
  });
export type NodeConfig = z.infer<typeof NodeConfigSchema>;
export type NodeConfigInput = z.input<typeof NodeConfigSchema>;

/** `streamrp2p deploy`: what a one-click node on a fresh VM needs. */
export const DeployParamsSchema = z.strictObject({
  coordinator: z.url({ protocol: /^https?$/, error: "coordinator: an http(s) URL" }),
  /** The stream or streamer to restream; empty: whatever the network needs. */
  support: NodeConfigSchema.shape.support,
  port: z.coerce.number().int().min(1).max(65_535).default(8080),
  /** Where the VM clones StreamrP2P from, and which branch it tracks for updates. */
  repo: z.string().regex(/^(https:\/\/|git@)[\w.@:/~-]+$/, "repo: an https:// or git@ URL"),
  ref: z
    .string()
    .regex(/^[\w][\w./-]{0,99}$/, "ref: a branch name")
    .default("main"),
  /** The provider --region and --size are for (Terraform writes modules for all). */
  provider: z.enum(["digitalocean", "hetzner"]).optional(),
  /** Provider region and instance size (Terraform). */
  region: z
    .string()
    .regex(/^[a-z0-9-]{2,32}$/)
    .optional(),
  size: z
    .string()
    .regex(/^[a-z0-9-]{2,40}$/)
    .optional(),
  /** Monthly spending cap in the provider's billing currency (USD at DigitalOcean, EUR at Hetzner). */
  monthlyCap: z.coerce.number().positive().max(100_000).default(10),
});
export type DeployParams = z.infer<typeof DeployParamsSchema>;
