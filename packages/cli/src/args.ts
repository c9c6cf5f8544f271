import { parseArgs } from "node:util";

export type Flags = Record<string, string | boolean | string[] | undefined>;

/** Parses `--name value` flags; unknown flags are an error, so typos never pass silently. */
export function parseFlags(
  argv: string[],
  spec: Record<string, { type: "string" | "boolean"; multiple?: boolean; default?: string | boolean }>,
): Flags {
  const { values } = parseArgs({ args: argv, options: spec, strict: true, allowPositionals: false });
  return values as Flags;
}

export function intFlag(flags: Flags, name: string, fallback: number): number {
  const raw = flags[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`--${name} must be a non-negative integer, got ${String(raw)}`);
  return n;
}

export function stringFlag(flags: Flags, name: string, fallback: string): string {
  const raw = flags[name];
  return typeof raw === "string" ? raw : fallback;
}
