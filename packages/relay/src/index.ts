export { RELAY_DEFAULTS, TLS_DEFAULTS } from "./defaults.ts";
export type { ServedBytes } from "./delivery-signer.ts";
export { LiveStream } from "./live-stream.ts";
export { MediaObject } from "./media-object.ts";
export type { StreamDirectory, UpstreamResolver } from "./ports.ts";
export { MAX_PART_SIGNATURES_PER_WINDOW } from "./puller.ts";
export { ReceiptStore, type StoredReceipt } from "./receipt-store.ts";
export { createRelay, type Relay, type RelayComponents, type RelayOptions, type RelayTls } from "./relay.ts";
