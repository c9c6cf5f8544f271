import { COORDINATOR_DEFAULTS, createCoordinator, openStore } from "@streamrp2p/coordinator";
import { createLogger } from "@streamrp2p/service";
import { intFlag, parseFlags, stringFlag } from "./args.ts";
import { stopOnSignal } from "./lifecycle.ts";

export const coordinatorHelp = `streamrp2p coordinator [--host 127.0.0.1] [--port 7700] [--data-dir .data/coordinator]
                       [--postgres postgres://user@host/db] [--ticket-key FILE] [--replica-id NAME]
                       [--node-urls auto|public|any] [--epoch-ms N] [--probe-interval-ms N] [--lease-ttl-ms N]
  Runs the coordinator (registry, routing, accounting, epochs). Embedded SQLite under --data-dir by
  default; with --postgres (or SRP_POSTGRES_URL) several replicas share one PostgreSQL database:
  any replica answers any request, one at a time (the epoch lease holder) closes and settles epochs.
  Replicas must share the ticket-signing key: give them the same --ticket-key file.
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
    "lease-ttl-ms": { type: "string" },
  });
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
      leaseTtlMs: intFlag(flags, "lease-ttl-ms", COORDINATOR_DEFAULTS.leaseTtlMs),
    },
    { store: await openStore(postgres || undefined, dataDir), log },
  );
  await coordinator.start();
  const where = postgres ? `PostgreSQL ${new URL(postgres).host}` : `SQLite in ${dataDir}`;
  console.log(`coordinator at ${coordinator.url} (data in ${where})`);
  await stopOnSignal(() => coordinator.stop());
}
