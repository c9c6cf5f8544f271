import { z } from "zod";
import { SrpError } from "./errors.ts";
import { MAX_RUNGS, RungNameSchema, SOURCE_RUNG } from "./rendition.ts";

/** The streamer's own encoding, passed through untouched (no transcoding cost). */
export const SourceRungSchema = z.strictObject({ name: z.literal(SOURCE_RUNG) });

/** A rendition the origin transcodes: scaled to `height` (width keeps the aspect ratio). */
export const TranscodedRungSchema = z.strictObject({
  name: RungNameSchema,
  /** Output height in pixels (even: H.264 4:2:0 needs it). */
  height: z
    .number()
    .int()
    .min(72)
    .max(2160)
    .refine((h) => h % 2 === 0, "height must be even"),
  /** Target video bitrate, kbit/s. */
  videoKbps: z.number().int().min(50).max(50_000),
  /** AAC audio bitrate, kbit/s. */
  audioKbps: z.number().int().min(16).max(512),
});
export type TranscodedRung = z.infer<typeof TranscodedRungSchema>;

export const RungSchema = z.union([SourceRungSchema, TranscodedRungSchema]);
export type Rung = z.infer<typeof RungSchema>;

/**
 * The adaptive-bitrate ladder a streamer chooses: the source first, then the
 * transcoded rungs. Default: the source alone (no transcoding).
 */
export const LadderSchema = z
  .array(RungSchema)
  .min(1)
  .max(MAX_RUNGS)
  .superRefine((rungs, ctx) => {
    if (rungs[0]?.name !== SOURCE_RUNG)
      ctx.addIssue({ code: "custom", message: `the ladder starts with "${SOURCE_RUNG}"` });
    const names = rungs.map((r) => r.name);
    if (new Set(names).size !== names.length)
      ctx.addIssue({ code: "custom", message: "rung names must be unique" });
  })
  .default([{ name: SOURCE_RUNG }]);
export type Ladder = z.infer<typeof LadderSchema>;

export const DEFAULT_LADDER: Ladder = [{ name: SOURCE_RUNG }];

/** Named rungs for `--ladder`; bitrates are the common H.264 ladder's (kbit/s). */
export const LADDER_PRESETS: Readonly<Record<string, TranscodedRung>> = {
  "1080p": { name: "1080p", height: 1080, videoKbps: 5_000, audioKbps: 128 },
  "720p": { name: "720p", height: 720, videoKbps: 2_800, audioKbps: 128 },
  "480p": { name: "480p", height: 480, videoKbps: 1_400, audioKbps: 96 },
  "360p": { name: "360p", height: 360, videoKbps: 800, audioKbps: 96 },
  "240p": { name: "240p", height: 240, videoKbps: 400, audioKbps: 64 },
  "144p": { name: "144p", height: 144, videoKbps: 160, audioKbps: 48 },
};

/**
 * Parses a ladder as typed on a command line: comma-separated rungs, each
 * `source`, a preset name (`720p`), or `name:height:videoKbps:audioKbps`.
 * The source is added in front when left out. Throws BAD_REQUEST.
 */
export function parseLadderSpec(spec: string): Ladder {
  const rungs: unknown[] = [];
  for (const raw of spec.split(",")) {
    const item = raw.trim();
    if (item === "") continue;
    const preset = LADDER_PRESETS[item];
    if (item === SOURCE_RUNG) rungs.push({ name: SOURCE_RUNG });
    else if (preset) rungs.push(preset);
    else {
      const [name, height, videoKbps, audioKbps, ...rest] = item.split(":");
      if (rest.length > 0 || audioKbps === undefined)
        throw new SrpError(
          "BAD_REQUEST",
          `ladder rung '${item}': use source, a preset (${Object.keys(LADDER_PRESETS).join(", ")}) or name:height:videoKbps:audioKbps`,
        );
      rungs.push({
        name,
        height: Number(height),
        videoKbps: Number(videoKbps),
        audioKbps: Number(audioKbps),
      });
    }
  }
  if ((rungs[0] as Rung | undefined)?.name !== SOURCE_RUNG) rungs.unshift({ name: SOURCE_RUNG });
  const parsed = LadderSchema.safeParse(rungs);
  if (!parsed.success) throw new SrpError("BAD_REQUEST", `ladder: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** One line per rung, for `up` and the origin's start-up output. */
export function describeLadder(ladder: Ladder): string {
  return ladder
    .map((r) =>
      "height" in r
        ? `${r.name} (${r.height}p, ${r.videoKbps}+${r.audioKbps} kbit/s)`
        : `${r.name} (passthrough)`,
    )
    .join(", ");
}

/** The transcoded rungs of a ladder (everything but the source). */
export function transcodedRungs(ladder: Ladder): TranscodedRung[] {
  return ladder.filter((r): r is TranscodedRung => "height" in r);
}
