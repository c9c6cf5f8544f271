import { decodePathParam, parseRequestTarget } from "@streamrp2p/service";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FUZZ_RUNS, FUZZ_SEED, parsesOrRefuses } from "../../../test/support/fuzz.ts";

/** Percent-escapes, valid and not: `%ff` (not UTF-8), `%` alone, `%4`, overlong and surrogate encodings. */
const percentEscape = fc.oneof(
  fc.integer({ min: 0, max: 255 }).map((b) => `%${b.toString(16).padStart(2, "0")}`),
  fc.constantFrom("%", "%4", "%zz", "%ff", "%c0%af", "%ed%a0%80", "%e0%a4%a", "%00", "%2F", "%2e%2e"),
);
const pathText = fc
  .array(
    fc.oneof(
      percentEscape,
      fc.string({ maxLength: 4 }),
      fc.constantFrom("/", "..", ".", "?", "#", "\\", "@", ":", "[", "]"),
    ),
    {
      maxLength: 30,
    },
  )
  .map((parts) => parts.join(""));

describe("fuzz: URL paths and queries (service http.ts)", () => {
  it("decodePathParam: the decoded text, or BAD_REQUEST for malformed percent-encoding", () => {
    let refused = 0;
    fc.assert(
      fc.property(pathText, (raw) => {
        const r = parsesOrRefuses(() => decodePathParam("p", raw), ["BAD_REQUEST"]);
        if (!r.ok) refused += 1;
      }),
      { seed: FUZZ_SEED, numRuns: FUZZ_RUNS * 3 },
    );
    expect(refused).toBeGreaterThan(0);
    expect(() => decodePathParam("stream", "%ff")).toThrow(/not valid percent-encoded/);
  });

  it("parseRequestTarget: a URL whose query always parses, or BAD_REQUEST (absolute-form targets included)", () => {
    const target = fc.oneof(
      pathText.map((p) => `/${p}`),
      pathText.map((p) => `http://${p}`),
      fc.string({ maxLength: 60 }),
      fc.constantFrom("http://[", "http://[::1", "//", "*", "http://a:99999/", "http://%zz/"),
    );
    fc.assert(
      fc.property(target, (t) => {
        const r = parsesOrRefuses(() => parseRequestTarget(t), ["BAD_REQUEST"]);
        if (r.ok) {
          // What handlers read: the path and query parameters never throw once the URL exists.
          expect(typeof r.value.pathname).toBe("string");
          for (const [k, v] of r.value.searchParams) expect(typeof k + typeof v).toBe("stringstring");
        }
      }),
      { seed: FUZZ_SEED, numRuns: FUZZ_RUNS * 3 },
    );
  });
});
