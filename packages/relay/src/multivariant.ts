import { describeInit, type InitInfo, renderMultivariantPlaylist, type Variant } from "@streamrp2p/protocol";
import type { LiveStream } from "./live-stream.ts";
import type { MediaObject } from "./media-object.ts";

/** Init bytes never change (their hash is signed): parsed once each. */
const infoCache = new WeakMap<MediaObject, InitInfo>();

function initInfo(init: MediaObject): InitInfo | undefined {
  const bytes = init.bytes;
  if (!bytes) return undefined;
  let info = infoCache.get(init);
  if (!info) {
    info = describeInit(bytes);
    infoCache.set(init, info);
  }
  return info;
}

/**
 * One rung as the multivariant playlist lists it, from signed facts only:
 * resolution and codecs from its init's bytes, peak and mean bitrate from
 * its segments' attested sizes and durations. Undefined while the rung has
 * no whole init or no segment.
 */
function variantOf(w: LiveStream): Variant | undefined {
  const init = w.newestCompleteInit();
  const info = init && initInfo(init);
  if (!info) return undefined;
  let peak = 0;
  let bytes = 0;
  let ms = 0;
  for (const s of w.segments()) {
    const a = s.attestation;
    if (a.durationMs <= 0) continue;
    peak = Math.max(peak, (a.byteLength * 8_000) / a.durationMs);
    bytes += a.byteLength;
    ms += a.durationMs;
  }
  if (ms === 0) return undefined;
  return {
    rung: w.rung,
    bandwidth: peak,
    averageBandwidth: (bytes * 8_000) / ms,
    width: info.width,
    height: info.height,
    codecs: info.codecs,
  };
}

/** The multivariant playlist of `windows` (the source's first); undefined until the source can play. */
export function renderLadder(windows: LiveStream[]): string | undefined {
  const variants = windows.map(variantOf);
  if (!variants[0]) return undefined;
  return renderMultivariantPlaylist(variants.filter((v): v is Variant => v !== undefined));
}
