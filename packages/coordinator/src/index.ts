export { AccountingService } from "./accounting/accounting-service.ts";
export { computeEpoch, EPOCH_PARAMS, type EpochParams } from "./accounting/epoch-compute.ts";
export { PICK_AMONG, ProbeSchedule, type ProbeScheduleOptions } from "./accounting/probe-schedule.ts";
export { VIEWER_HEADERS } from "./accounting/prober.ts";
export { checkTicketMatchesSession } from "./accounting/receipt-intake.ts";
export { ReceiptVerifier } from "./accounting/receipt-verifier.ts";
export { REPUTATION_PARAMS, reputation } from "./accounting/reputation.ts";
export { SegmentRecorder } from "./accounting/segment-recorder.ts";
export { issueSession, type SessionIssuer, siteOf, subnetOf } from "./accounting/sessions.ts";
export {
  creditKey,
  type EpochCreditRow,
  type ProbeRow,
  type ReceiptRow,
  type SegmentRow,
  type SessionRow,
} from "./accounting/store.ts";
export { TamperIndex } from "./accounting/tamper.ts";
export { TicketLimits } from "./accounting/ticket-limits.ts";
export { UptimeTracker } from "./accounting/uptime.ts";
export { viewerAddressKey } from "./accounting/viewer-identity.ts";
export {
  type Coordinator,
  type CoordinatorComponents,
  type CoordinatorOptions,
  createCoordinator,
} from "./coordinator.ts";
export { COORDINATOR_DEFAULTS, SUSPECT_ROUTING_FACTOR } from "./defaults.ts";
export { openStore, PostgresStore } from "./postgres-store.ts";
export { RateLimiter } from "./rate-limiter.ts";
export { ViewerIndex } from "./routing/viewer-index.ts";
export * as routing from "./routing.ts";
export { type ClaimProof, type SettlementConfig, Settler } from "./settlement/settler.ts";
export { SqlStore } from "./sql-store.ts";
export { SqliteStore } from "./sqlite-store.ts";
export type { AssignmentRow, CoordinatorStore, NodeRow, StreamRow, TamperFlag } from "./store.ts";
export * as tree from "./tree.ts";
