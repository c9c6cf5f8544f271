import { z } from "zod";
import { SrpError } from "./errors.ts";

/** Parses `value` with `schema` or throws VALIDATION_FAILED naming `what` and every problem. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new SrpError(
      "VALIDATION_FAILED",
      `${what}: ${z.prettifyError(result.error).replaceAll("\n", "; ")}`,
    );
  }
  return result.data;
}
