export {
  type Coordinator,
  type CoordinatorComponents,
  type CoordinatorOptions,
  createCoordinator,
} from "./coordinator.ts";
export { COORDINATOR_DEFAULTS } from "./defaults.ts";
export * as routing from "./routing.ts";
export { SqliteStore } from "./sqlite-store.ts";
export type { CoordinatorStore, NodeRow, StreamRow } from "./store.ts";
