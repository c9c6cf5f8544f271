import { z } from "zod";
import { SrpError } from "./errors.ts";
import { RENDITION_INIT, RENDITION_MAIN } from "./wire.ts";

/**
 * Renditions of an adaptive-bitrate ladder on the wire. The source rung (the
 * streamer's own encoding, passed through) keeps the paths and attestation
 * names a single-rendition stream always had: `/live/:stream/seg-N.m4s`,
 * attested as "main" (its inits as "init"). A transcoded rung lives one
 * folder down, `/live/:stream/:rung/seg-N.m4s`, and its attestations name the
 * rung ("720p"; its inits "720p.init"), so a segment signed for one rung is
 * never accepted as another's: every party checks the name against the path.
 */
export const SOURCE_RUNG = "source";

/** Most rungs a ladder may have, the source included: bounds every party's state per stream. */
export const MAX_RUNGS = 6;

const RESERVED = new Set([SOURCE_RUNG, RENDITION_MAIN, RENDITION_INIT, "live", "end"]);

/** A transcoded rung's name: a path segment and an attestation name, never one of the reserved names. */
export const RungNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,15}$/, "rung name: 1-16 chars of a-z, 0-9, '-', '_', starting alphanumeric")
  .refine((n) => !RESERVED.has(n), "rung name is reserved");

/** The attestation `rendition` of a rung's segments or inits. */
export function renditionName(rung: string, kind: "init" | "segment"): string {
  if (rung === SOURCE_RUNG) return kind === "init" ? RENDITION_INIT : RENDITION_MAIN;
  return kind === "init" ? `${rung}.init` : rung;
}

/** Whether an attestation `rendition` names an init (of any rung). */
export function isInitRendition(rendition: string): boolean {
  return rendition === RENDITION_INIT || rendition.endsWith(".init");
}

/** The rung an attestation `rendition` belongs to. */
export function rungOfRendition(rendition: string): string {
  if (rendition === RENDITION_MAIN || rendition === RENDITION_INIT) return SOURCE_RUNG;
  return rendition.endsWith(".init") ? rendition.slice(0, -".init".length) : rendition;
}

/** Where a rung's files live under a relay: `streamId` for the source, `streamId/rung` for the others. */
export function rungPath(streamId: string, rung: string): string {
  return rung === SOURCE_RUNG ? streamId : `${streamId}/${rung}`;
}

/** Throws NOT_FOUND unless `rung` is a name a transcoded rung may have (a request's path segment). */
export function checkRungName(rung: string): void {
  if (!RungNameSchema.safeParse(rung).success) throw new SrpError("NOT_FOUND", `no rendition ${rung}`);
}

export interface MediaPath {
  streamId: string;
  rung: string;
  file: string;
}

/**
 * Splits `/live/:stream/:file` or `/live/:stream/:rung/:file` (a path as
 * requested, no query). Undefined for any other shape; names are not
 * validated here.
 */
export function splitMediaPath(path: string): MediaPath | undefined {
  const parts = path.split("/");
  if (parts[0] !== "" || parts[1] !== "live") return undefined;
  if (parts.length === 4) return { streamId: parts[2] ?? "", rung: SOURCE_RUNG, file: parts[3] ?? "" };
  if (parts.length === 5) return { streamId: parts[2] ?? "", rung: parts[3] ?? "", file: parts[4] ?? "" };
  return undefined;
}
