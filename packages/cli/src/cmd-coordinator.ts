import { COORDINATOR_DEFAULTS, createCoordinator, SqliteStore } from "@streamrp2p/coordinator";
import { createLogger } from "@streamrp2p/service";
import { intFlag, parseFlags, stringFlag } from "./args.ts";
import { coordinatorUrlsFlag } from "./coordinator-flag.ts";
import { stopOnSignal } from "./lifecycle.ts";

export const coordinatorHelp = `streamrp2p coordinator [--host 127.0.0.1] [--port 7700] [--data-dir .data/coordinator]
                       [--node-urls auto|public|any] [--replica-urls URL,URL...]
  Runs the coordinator (registry, routing) with an embedded SQLite store.
  --replica-urls: public URLs of this coordinator's replicas (same database); the watch page's player
  fails over to them when the replica that served the page goes.
  --node-urls: which relay URLs may register. public: routable hosts only (the coordinator and
  origins fetch them); any; auto (default): any on a loopback-only coordinator, public otherwise.`;

export async function runCoordinator(argv: string[]): Promise<void> {
  const flags = parseFlags(argv, {
    host: { type: "string" },
    port: { type: "string" },
    "data-dir": { type: "string" },
    "node-urls": { type: "string" },
    "replica-urls": { type: "string" },
  });
  const log = createLogger("coordinator");
  const dataDir = stringFlag(flags, "data-dir", COORDINATOR_DEFAULTS.dataDir);
  const coordinator = createCoordinator(
    {
      host: stringFlag(flags, "host", COORDINATOR_DEFAULTS.host),
      port: intFlag(flags, "port", COORDINATOR_DEFAULTS.port),
      dataDir,
      nodeUrls: stringFlag(flags, "node-urls", COORDINATOR_DEFAULTS.nodeUrls),
      replicaUrls:
        flags["replica-urls"] === undefined
          ? COORDINATOR_DEFAULTS.replicaUrls
          : coordinatorUrlsFlag(flags, "", "replica-urls"),
    },
    { store: new SqliteStore(dataDir), log },
  );
  await coordinator.start();
  console.log(`coordinator at ${coordinator.url} (data in ${dataDir})`);
  await stopOnSignal(() => coordinator.stop());
}
