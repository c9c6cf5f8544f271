// A relay worker process (src/workers/pool.ts forks it): runs the TypeScript sources directly, as the CLI does.
import { register } from "tsx/esm/api";

register();
await import("../src/workers/worker-main.ts");
