export { Broadcast, type BroadcastStats, type BroadcastTiming } from "./broadcast.ts";
export {
  type BroadcastPosition,
  type BroadcastStateStore,
  FileBroadcastState,
  MemoryBroadcastState,
} from "./broadcast-state.ts";
export { ORIGIN_DEFAULTS, type VideoEncoderChoice } from "./defaults.ts";
export { chooseVideoEncoder, type VideoEncoder } from "./encoder.ts";
export { RUNG_FD, redact, requireFfmpeg, spawnFlvRemux, spawnSrtListener, type Transcode } from "./ffmpeg.ts";
export { BoxReader, parseMoof, parseMoov, type TrackInfo } from "./fmp4.ts";
export {
  createOrigin,
  type Origin,
  type OriginComponents,
  type OriginOptions,
  type OriginStreamConfig,
} from "./origin.ts";
export { IngestPublisher } from "./publisher.ts";
export { type AlignedSegment, type Boundary, RenditionAligner } from "./rendition-aligner.ts";
export { type CutPart, type CutSegment, Segmenter } from "./segmenter.ts";
