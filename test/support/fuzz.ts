import { type ErrorCode, SrpError } from "@streamrp2p/protocol";

/**
 * Fixed seed of every fuzz test: a failure reproduces with the same inputs.
 * `FUZZ_SEED` overrides it for a deeper local hunt (the failure message
 * prints the seed and the path fast-check needs to replay it).
 */
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20_261_126);

/** Runs per property in the test suite: each fuzz file stays within a few seconds. */
export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 300);

/** One parser call longer than this is a hang for our purposes (inputs are at most a few hundred KiB). */
export const PARSE_BUDGET_MS = 1_000; // ms

/** What a parser did with one input. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: SrpError };

/**
 * Calls `parse` and checks the one contract every parser has: it returns a
 * value, or throws an SrpError (with one of `codes`, when given) — never a
 * TypeError, RangeError or anything else — and it returns within
 * PARSE_BUDGET_MS. Anything else is rethrown so fast-check shrinks it.
 */
export function parsesOrRefuses<T>(parse: () => T, codes?: readonly ErrorCode[]): Outcome<T> {
  const started = performance.now();
  let outcome: Outcome<T>;
  try {
    outcome = { ok: true, value: parse() };
  } catch (err) {
    outcome = { ok: false, error: asTypedError(err, codes) };
  }
  checkBudget(started);
  return outcome;
}

/** The async form of parsesOrRefuses, for verifiers (signatures are checked asynchronously). */
export async function parsesOrRefusesAsync<T>(
  parse: () => Promise<T>,
  codes?: readonly ErrorCode[],
): Promise<Outcome<T>> {
  const started = performance.now();
  let outcome: Outcome<T>;
  try {
    outcome = { ok: true, value: await parse() };
  } catch (err) {
    outcome = { ok: false, error: asTypedError(err, codes) };
  }
  checkBudget(started);
  return outcome;
}

function asTypedError(err: unknown, codes: readonly ErrorCode[] | undefined): SrpError {
  if (!(err instanceof SrpError)) {
    throw new Error(`untyped error: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`, {
      cause: err,
    });
  }
  if (codes && !codes.includes(err.code)) {
    throw new Error(`SrpError ${err.code} (${err.message}), expected one of ${codes.join(", ")}`);
  }
  if (err.status >= 500 && err.code !== "MALFORMED_PLAYLIST") {
    // A parser refusing its input names the client's mistake; 5xx would blame the server.
    throw new Error(`SrpError ${err.code} maps to ${err.status} for bad input`);
  }
  return err;
}

function checkBudget(started: number): void {
  const took = performance.now() - started;
  if (took > PARSE_BUDGET_MS)
    throw new Error(`parser took ${Math.round(took)} ms (budget ${PARSE_BUDGET_MS} ms)`);
}
