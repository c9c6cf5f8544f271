export { PLAYER_DEFAULTS } from "./defaults.ts";
export { AllNodesFailed, AttemptError, fetchWithFailover } from "./fetch-with-failover.ts";
export { type FailureKind, NodePool, type PoolNode } from "./node-pool.ts";
export { PlaylistGuard } from "./playlist-guard.ts";
export { ReceiptTracker } from "./receipts.ts";
export {
  type SessionEvent,
  type SessionStats,
  ViewerSession,
  type ViewerSessionOptions,
} from "./viewer-session.ts";
