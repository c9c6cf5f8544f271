import { CoordinatorClient } from "@streamrp2p/api-client";
import { createRelay, RELAY_DEFAULTS } from "@streamrp2p/relay";
import { createLogger } from "@streamrp2p/service";
import { privateKeyToAccount } from "viem/accounts";
import { intFlag, parseFlags, stringFlag } from "./args.ts";
import { loadOrCreateKey } from "./keys.ts";
import { stopOnSignal } from "./lifecycle.ts";

export const relayHelp = `streamrp2p relay --coordinator URL [--host 127.0.0.1] [--port 8080] [--public-url URL]
                 [--region local] [--capacity-mbps 1000] [--ingest] [--stream ID ...] [--key-file .data/relay/node.key]
  Runs a relay node. Its node key is created on first start and kept in --key-file.`;

export async function runRelay(argv: string[]): Promise<void> {
  const flags = parseFlags(argv, {
    coordinator: { type: "string" },
    host: { type: "string" },
    port: { type: "string" },
    "public-url": { type: "string" },
    region: { type: "string" },
    "capacity-mbps": { type: "string" },
    ingest: { type: "boolean" },
    stream: { type: "string", multiple: true },
    "key-file": { type: "string" },
  });
  const coordinatorUrl = stringFlag(flags, "coordinator", "");
  if (!coordinatorUrl) throw new Error("--coordinator URL is required");
  const { key, created } = loadOrCreateKey(stringFlag(flags, "key-file", ".data/relay/node.key"));
  const account = privateKeyToAccount(key);
  const relay = createRelay(
    {
      host: stringFlag(flags, "host", RELAY_DEFAULTS.host),
      port: intFlag(flags, "port", 8080),
      publicUrl: typeof flags["public-url"] === "string" ? flags["public-url"] : undefined,
      region: stringFlag(flags, "region", RELAY_DEFAULTS.region),
      capacityMbps: intFlag(flags, "capacity-mbps", RELAY_DEFAULTS.capacityMbps),
      ingest: flags.ingest === true,
      streams: (flags.stream as string[] | undefined) ?? [],
    },
    { account, log: createLogger("relay"), coordinator: new CoordinatorClient({ baseUrl: coordinatorUrl }) },
  );
  await relay.start();
  console.log(`relay ${account.address}${created ? " (new key)" : ""} serving at ${relay.url}`);
  await stopOnSignal(() => relay.stop());
}
