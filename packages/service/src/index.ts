export { type FetchLike, type JsonRequest, requestJson } from "./client.ts";
export {
  decodePathParam,
  type Handler,
  type Params,
  parseRequestTarget,
  Router,
  readBody,
  readJson,
  sendError,
  sendJson,
} from "./http.ts";
export { createLogger, type Logger, type LoggerOptions, type LogLevel, silentLogger } from "./logger.ts";
export { Counter, createMetricsRegistry, Gauge, Histogram, Registry } from "./metrics.ts";
export {
  type HttpServiceOptions,
  httpServerLimits,
  type RunningHttpServer,
  startHttpService,
} from "./server.ts";

/** Anything with timers or sockets. */
export interface Startable {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The type of a defaults object declared `as const`, with its literals widened (what callers may set). */
export type Widen<T> = {
  -readonly [K in keyof T]: T[K] extends number
    ? number
    : T[K] extends string
      ? string
      : T[K] extends boolean
        ? boolean
        : T[K];
};
export {
  AddressNotAllowedError,
  type AddressPolicy,
  guardedFetch,
  isAddressNotAllowed,
  isPublicAddress,
  publicOnlyLookup,
  type Resolver,
  resolveAddressPolicy,
} from "./address-policy.ts";
export { HTTP_SERVER_DEFAULTS, type HttpServerLimits } from "./defaults.ts";
export { verifyEd25519Native } from "./ed25519-native.ts";
export { readBodyCapped } from "./read-capped.ts";
