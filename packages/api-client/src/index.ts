export { CoordinatorClient, type CoordinatorClientOptions } from "./coordinator-client.ts";
