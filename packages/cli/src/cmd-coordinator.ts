import { COORDINATOR_DEFAULTS, createCoordinator, SqliteStore } from "@streamrp2p/coordinator";
import { createLogger } from "@streamrp2p/service";
import { intFlag, parseFlags, stringFlag } from "./args.ts";
import { stopOnSignal } from "./lifecycle.ts";

export const coordinatorHelp = `streamrp2p coordinator [--host 127.0.0.1] [--port 7700] [--data-dir .data/coordinator]
                       [--node-urls auto|public|any] [--max-children 4] [--min-relays-per-stream 8]
  Runs the coordinator (registry, routing) with an embedded SQLite store.
  --max-children: relays one node feeds per stream (the relay tree's fan-out).
  --min-relays-per-stream: relays beyond the ingest relays kept carrying each live stream without
  viewers or children of their own (warm standbys); the others carry a stream only on demand.
  --node-urls: which relay URLs may register. public: routable hosts only (the coordinator and
  origins fetch them); any; auto (default): any on a loopback-only coordinator, public otherwise.`;

export async function runCoordinator(argv: string[]): Promise<void> {
  const flags = parseFlags(argv, {
    host: { type: "string" },
    port: { type: "string" },
    "data-dir": { type: "string" },
    "node-urls": { type: "string" },
    "max-children": { type: "string" },
    "min-relays-per-stream": { type: "string" },
  });
  const log = createLogger("coordinator");
  const dataDir = stringFlag(flags, "data-dir", COORDINATOR_DEFAULTS.dataDir);
  const coordinator = createCoordinator(
    {
      host: stringFlag(flags, "host", COORDINATOR_DEFAULTS.host),
      port: intFlag(flags, "port", COORDINATOR_DEFAULTS.port),
      dataDir,
      nodeUrls: stringFlag(flags, "node-urls", COORDINATOR_DEFAULTS.nodeUrls),
      maxChildren: intFlag(flags, "max-children", COORDINATOR_DEFAULTS.maxChildren),
      minRelaysPerStream: intFlag(flags, "min-relays-per-stream", COORDINATOR_DEFAULTS.minRelaysPerStream),
    },
    { store: new SqliteStore(dataDir), log },
  );
  await coordinator.start();
  console.log(`coordinator at ${coordinator.url} (data in ${dataDir})`);
  await stopOnSignal(() => coordinator.stop());
}
