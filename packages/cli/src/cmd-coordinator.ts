import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import {
  COORDINATOR_DEFAULTS,
  createCoordinator,
  openStore,
  type SettlementConfig,
} from "@streamrp2p/coordinator";
import { createLogger } from "@streamrp2p/service";
import { z } from "zod";
import { intFlag, parseFlags, stringFlag } from "./args.ts";
import { coordinatorUrlsFlag } from "./coordinator-flag.ts";
import { stopOnSignal } from "./lifecycle.ts";

export const coordinatorHelp = `streamrp2p coordinator [--host 127.0.0.1] [--port 7700] [--data-dir .data/coordinator]
                       [--postgres postgres://user@host/db] [--ticket-key FILE] [--replica-id NAME]
                       [--node-urls auto|public|any] [--epoch-ms N] [--probe-interval-ms N] [--lease-ttl-ms N]
                       [--settlement FILE] [--replica-urls URL,URL...] [--max-children 4] [--min-relays-per-stream 8]
                       [--registration-burst 60] [--registrations-per-minute 30]
                       [--probe-each-node-ms 1200000] [--max-probes-per-second 20]
  Runs the coordinator (registry, routing, accounting, epochs). Embedded SQLite under --data-dir by
  default; with --postgres (or SRP_POSTGRES_URL) several replicas share one PostgreSQL database:
  any replica answers any request, one at a time (the epoch lease holder) closes and settles epochs.
  Replicas must share the ticket-signing key: give them the same --ticket-key file.
  --replica-urls: public URLs of this coordinator's replicas (same database); the watch page's player
  fails over to them when the replica that served the page goes.
  --settlement FILE: settle epochs on an EVM chain; FILE is JSON {rpcUrl, chainId, deployment:
  {token, registry, pools, distributor, fraudProof}, settlerKeyFile} (the key file holds the
  0x-hex key of the account allowed to post roots; a path relative to FILE's folder).
  --max-children: relays one node feeds per stream (the relay tree's fan-out).
  --min-relays-per-stream: relays beyond the ingest relays kept carrying each live stream without
  viewers or children of their own (warm standbys); the others carry a stream only on demand.
  --probe-interval-ms: the built-in prober probes at least this often (0: off); --probe-each-node-ms:
  each node carrying a stream is probed about this often, however many there are, within
  --max-probes-per-second for the whole network.
  --registration-burst, --registrations-per-minute: node and stream registrations one network
  (IPv4 /24, IPv6 /48) may make at once and per minute after that (429 RATE_LIMITED beyond).
  --node-urls: which relay URLs may register. public: routable hosts only (the coordinator and
  origins fetch them); any; auto (default): any on a loopback-only coordinator, public otherwise.`;

export async function runCoordinator(argv: string[]): Promise<void> {
  const flags = parseFlags(argv, {
    host: { type: "string" },
    port: { type: "string" },
    "data-dir": { type: "string" },
    "node-urls": { type: "string" },
    postgres: { type: "string" },
    "ticket-key": { type: "string" },
    "replica-id": { type: "string" },
    "epoch-ms": { type: "string" },
    "probe-interval-ms": { type: "string" },
    "probe-each-node-ms": { type: "string" },
    "max-probes-per-second": { type: "string" },
    "lease-ttl-ms": { type: "string" },
    settlement: { type: "string" },
    "replica-urls": { type: "string" },
    "max-children": { type: "string" },
    "min-relays-per-stream": { type: "string" },
    "registration-burst": { type: "string" },
    "registrations-per-minute": { type: "string" },
  });
  const settlementFile = stringFlag(flags, "settlement", "");
  const log = createLogger("coordinator");
  const dataDir = stringFlag(flags, "data-dir", COORDINATOR_DEFAULTS.dataDir);
  const postgres = stringFlag(
    flags,
    "postgres",
    process.env.SRP_POSTGRES_URL ?? COORDINATOR_DEFAULTS.postgres,
  );
  const coordinator = createCoordinator(
    {
      host: stringFlag(flags, "host", COORDINATOR_DEFAULTS.host),
      port: intFlag(flags, "port", COORDINATOR_DEFAULTS.port),
      dataDir,
      postgres,
      ticketKeyFile: stringFlag(flags, "ticket-key", COORDINATOR_DEFAULTS.ticketKeyFile),
      replicaId: stringFlag(flags, "replica-id", COORDINATOR_DEFAULTS.replicaId),
      nodeUrls: stringFlag(flags, "node-urls", COORDINATOR_DEFAULTS.nodeUrls),
      epochMs: intFlag(flags, "epoch-ms", COORDINATOR_DEFAULTS.epochMs),
      probeIntervalMs: intFlag(flags, "probe-interval-ms", COORDINATOR_DEFAULTS.probeIntervalMs),
      probeEachNodeMs: intFlag(flags, "probe-each-node-ms", COORDINATOR_DEFAULTS.probeEachNodeMs),
      maxProbesPerSecond: intFlag(flags, "max-probes-per-second", COORDINATOR_DEFAULTS.maxProbesPerSecond),
      leaseTtlMs: intFlag(flags, "lease-ttl-ms", COORDINATOR_DEFAULTS.leaseTtlMs),
      replicaUrls:
        flags["replica-urls"] === undefined
          ? COORDINATOR_DEFAULTS.replicaUrls
          : coordinatorUrlsFlag(flags, "", "replica-urls"),
      maxChildren: intFlag(flags, "max-children", COORDINATOR_DEFAULTS.maxChildren),
      minRelaysPerStream: intFlag(flags, "min-relays-per-stream", COORDINATOR_DEFAULTS.minRelaysPerStream),
      registrationBurst: intFlag(flags, "registration-burst", COORDINATOR_DEFAULTS.registrationBurst),
      registrationsPerMinute: intFlag(
        flags,
        "registrations-per-minute",
        COORDINATOR_DEFAULTS.registrationsPerMinute,
      ),
    },
    {
      store: await openStore(postgres || undefined, dataDir),
      log,
      ...(settlementFile ? { settlement: loadSettlement(settlementFile) } : {}),
    },
  );
  await coordinator.start();
  const where = postgres ? `PostgreSQL ${new URL(postgres).host}` : `SQLite in ${dataDir}`;
  console.log(`coordinator at ${coordinator.url} (data in ${where})`);
  await stopOnSignal(() => coordinator.stop());
}

const Address = z.string().regex(/^0x[0-9a-fA-F]{40}$/) as unknown as z.ZodType<`0x${string}`>;
const SettlementFileSchema = z.strictObject({
  rpcUrl: z.url(),
  chainId: z.number().int().nonnegative(),
  deployment: z.strictObject({
    token: Address,
    registry: Address,
    pools: Address,
    distributor: Address,
    fraudProof: Address,
  }),
  settlerKeyFile: z.string().min(1),
});

/** The chain a coordinator settles on, from a JSON file; the settler's key from its own file. */
export function loadSettlement(file: string): SettlementConfig {
  const parsed = SettlementFileSchema.safeParse(JSON.parse(readFileSync(file, "utf8")));
  if (!parsed.success)
    throw new Error(
      `${file}: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  const keyFile = resolve(dirname(file), parsed.data.settlerKeyFile);
  const key = readFileSync(keyFile, "utf8").trim();
  if (!/^0x[0-9a-fA-F]{64}$/.test(key)) throw new Error(`${keyFile} does not hold a 0x-hex private key`);
  return {
    rpcUrl: parsed.data.rpcUrl,
    chainId: parsed.data.chainId,
    deployment: parsed.data.deployment,
    settlerKey: key as `0x${string}`,
  };
}
