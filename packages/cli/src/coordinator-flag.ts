import { CoordinatorUrlsSchema } from "@streamrp2p/protocol";
import { type Flags, stringFlag } from "./args.ts";

/**
 * `--coordinator URL[,URL…]`: the coordinator's replicas, tried in order with
 * failover; else `fallback` (SRP_COORDINATOR or the local default, as the
 * command documents). Checked by the node config's schema, so every command
 * takes the same spellings and refuses the same mistakes.
 */
export function coordinatorUrlsFlag(flags: Flags, fallback: string, name = "coordinator"): string[] {
  const raw = stringFlag(flags, name, fallback);
  const parsed = CoordinatorUrlsSchema.safeParse(raw);
  if (!parsed.success)
    throw new Error(`--${name} ${raw}: ${parsed.error.issues.map((i) => i.message).join("; ")}`);
  return parsed.data;
}
