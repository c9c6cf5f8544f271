export {
  COORDINATOR_CLIENT_DEFAULTS,
  CoordinatorClient,
  type CoordinatorClientOptions,
} from "./coordinator-client.ts";
export {
  CoordinatorEndpoints,
  type CoordinatorEndpointsOptions,
  coordinatorUrlList,
  FAILOVER_DEFAULTS,
  isReplicaFailure,
  withFailover,
} from "./coordinator-endpoints.ts";
