import * as protocol from "@streamrp2p/protocol";
import {
  base64urlToBytes,
  bytesToBase64url,
  bytesToHex,
  decodeAttestationHeader,
  encodeAttestationHeader,
  generateEd25519,
  OFF_CHAIN_DOMAIN,
  parseWith,
  type Receipt,
  SegmentAttestationSchema,
  sha256Hex,
  signNodeRegistration,
  signReceipt,
  signSegmentAttestation,
  signStreamEnd,
  signStreamRegistration,
  signTicket,
  type Ticket,
  utf8,
  verifyNodeRegistration,
  verifyReceipt,
  verifySegmentAttestation,
  verifyStreamEnd,
  verifyStreamRegistration,
  verifyTicket,
} from "@streamrp2p/protocol";
import fc from "fast-check";
import { privateKeyToAccount } from "viem/accounts";
import { beforeAll, describe, expect, it } from "vitest";
import type { z } from "zod";
import { FUZZ_RUNS, FUZZ_SEED, parsesOrRefuses, parsesOrRefusesAsync } from "../../../test/support/fuzz.ts";

/** Every zod schema the protocol exports: each is a boundary some party parses input with. */
const SCHEMAS = (Object.entries(protocol) as [string, unknown][]).filter(
  (e): e is [string, z.ZodType] =>
    e[0].endsWith("Schema") && typeof (e[1] as { safeParse?: unknown }).safeParse === "function",
);

// Fixed keys: the failures a seed finds stay reproducible.
const streamer = privateKeyToAccount(`0x${"11".repeat(32)}`);
const node = privateKeyToAccount(`0x${"22".repeat(32)}`);
const NOW = 1_800_000_000_000; // ms

/** Values JSON can carry that sit at the edges of every field's rule. */
const edgeValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  // Well-formed but wrong signatures (EIP-712 65-byte hex, Ed25519 base64url): reach the verifiers.
  fc.uint8Array({ minLength: 65, maxLength: 65 }).map((b) => bytesToHex(b)),
  fc.uint8Array({ minLength: 64, maxLength: 64 }).map((b) => bytesToBase64url(b)),
  fc.nat({ max: 4_000_000_000_000 }),
  fc.constantFrom(
    -1,
    -0,
    0.5,
    1e308,
    Number.MAX_SAFE_INTEGER + 2,
    2 ** 64,
    "",
    " ",
    "0x",
    `0x${"g".repeat(64)}`,
    `0x${"F".repeat(64)}`,
    "A".repeat(100_000),
    "\u0000",
    "\ud800",
    "__proto__",
    true,
    null,
    [],
    {},
    { __proto__: null },
    "1",
  ),
);

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Replaces, removes or adds one field somewhere in `value`: the shape stays, one type or rule breaks. */
function mutate(value: Json, path: number[], op: "replace" | "delete" | "add", replacement: Json): Json {
  if (value === null || typeof value !== "object") return op === "replace" ? replacement : value;
  const keys = Array.isArray(value) ? value.map((_v, i) => String(i)) : Object.keys(value);
  const copy: Record<string, Json> | Json[] = Array.isArray(value) ? [...value] : { ...value };
  const target = copy as Record<string, Json>;
  if (keys.length === 0 || path.length === 0) {
    if (op === "add") target[Array.isArray(value) ? String(keys.length) : "__extra"] = replacement;
    return copy;
  }
  const key = keys[(path[0] ?? 0) % keys.length] as string;
  if (path.length === 1) {
    if (op === "delete" && !Array.isArray(value)) delete target[key];
    else if (op === "add") target[`${key}_`] = replacement;
    else target[key] = replacement;
  } else {
    target[key] = mutate(target[key] as Json, path.slice(1), op, replacement);
  }
  return copy;
}

const mutation = fc.record({
  path: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
  op: fc.constantFrom("replace" as const, "delete" as const, "add" as const),
  replacement: edgeValue as fc.Arbitrary<Json>,
});

interface Samples {
  attestation: protocol.SegmentAttestation;
  ticket: Ticket;
  ticketKey: string;
  receipt: Receipt;
  streamRegistration: protocol.StreamRegistration;
  nodeRegistration: protocol.NodeRegistration;
  streamEnd: protocol.StreamEnd;
  /** A valid instance per schema name, for the shape-preserving mutations. */
  bySchema: Record<string, Json>;
}

async function makeSamples(): Promise<Samples> {
  const bytes = utf8("segment bytes");
  const attestation = await signSegmentAttestation(streamer, OFF_CHAIN_DOMAIN, {
    streamId: "demo",
    rendition: "main",
    seq: 7,
    initVersion: 0,
    sha256: sha256Hex(bytes),
    byteLength: bytes.length,
    durationMs: 1000,
    producedAt: NOW,
  });
  const coordinatorKey = await generateEd25519();
  const viewerKey = await generateEd25519();
  const ticket = await signTicket(coordinatorKey.privateKey, {
    sessionId: "0123456789abcdef0123456789abcdef",
    streamId: "demo",
    viewerKey: viewerKey.publicKey,
    issuedAt: NOW,
    expiresAt: NOW + 60_000,
  });
  const receipt = await signReceipt(viewerKey.privateKey, {
    sessionId: ticket.sessionId,
    nodeId: node.address.toLowerCase() as `0x${string}`,
    streamId: "demo",
    bytes: 1234,
    segments: 2,
    lastSeq: 7,
    issuedAt: NOW,
  });
  const streamRegistration = await signStreamRegistration(streamer, "demo", NOW);
  const nodeRegistration = await signNodeRegistration(node, {
    url: "http://127.0.0.1:8081",
    region: "local",
    capacityMbps: 100,
    ingest: true,
    streams: ["demo"],
    issuedAt: NOW,
  });
  const streamEnd = await signStreamEnd(streamer, {
    streamId: "demo",
    lastSeq: 7,
    lastAttestation: `0x${"cd".repeat(32)}`,
    producedAt: NOW,
  });
  const nodeId = node.address.toLowerCase();
  const bySchema: Record<string, Json> = {
    SegmentAttestationSchema: attestation,
    TicketSchema: ticket,
    ReceiptSchema: receipt,
    ReceiptSubmissionSchema: { ticket, receipt },
    ReceiptBatchSchema: { nodeId, submissions: [{ ticket, receipt }] },
    StreamRegistrationSchema: streamRegistration,
    NodeRegistrationSchema: nodeRegistration as unknown as Json,
    StreamEndSchema: streamEnd,
    HeartbeatSchema: {
      nodeId,
      connections: 1,
      egressBps: 1000,
      bytesServed: 10,
      streams: [{ streamId: "demo", upstream: null, liveEdgeSeq: 3, viewers: 1 }],
      draining: false,
    },
    UpstreamRequestSchema: { nodeId, exclude: [nodeId] },
    SessionRequestSchema: { viewerKey: viewerKey.publicKey, region: "local" },
    EvidenceSchema: {
      streamId: "demo",
      nodeId,
      attestation,
      servedSha256: `0x${"ab".repeat(32)}`,
      servedBytes: 10,
      nodeSignature: null,
    },
    StreamWindowSchema: {
      streamId: "demo",
      inits: [],
      segments: [{ init: 0, attestation }],
      end: streamEnd,
    },
  };
  return {
    attestation,
    ticket,
    ticketKey: coordinatorKey.publicKey,
    receipt,
    streamRegistration,
    nodeRegistration,
    streamEnd,
    bySchema,
  };
}

describe("fuzz: every protocol schema", () => {
  let samples: Samples;
  beforeAll(async () => {
    samples = await makeSamples();
  });

  it("finds the schemas (the enumeration itself is not empty)", () => {
    expect(SCHEMAS.length).toBeGreaterThanOrEqual(15);
    for (const name of Object.keys(samples.bySchema)) expect(SCHEMAS.map(([n]) => n)).toContain(name);
  });

  it("random JSON and random values: each schema returns a value it accepts again, or throws VALIDATION_FAILED", () => {
    for (const [name, schema] of SCHEMAS) {
      fc.assert(
        fc.property(
          fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.anything({ maxDepth: 3 }), edgeValue),
          (input) => {
            const r = parsesOrRefuses(() => parseWith(schema, input, name), ["VALIDATION_FAILED"]);
            if (r.ok) expect(schema.safeParse(r.value).success, name).toBe(true);
          },
        ),
        { seed: FUZZ_SEED, numRuns: FUZZ_RUNS },
      );
    }
  });

  it("valid bodies with one field replaced, removed or added: accepted only if still valid, else VALIDATION_FAILED", () => {
    for (const [name, valid] of Object.entries(samples.bySchema)) {
      const schema = SCHEMAS.find(([n]) => n === name)?.[1] as z.ZodType;
      expect(schema.safeParse(valid).success, `${name} sample is valid`).toBe(true);
      let refused = 0;
      fc.assert(
        fc.property(mutation, ({ path, op, replacement }) => {
          // Through JSON text, as a body arrives: an own "__proto__" key stays a key.
          const body = JSON.parse(JSON.stringify(mutate(valid, path, op, replacement))) as unknown;
          const r = parsesOrRefuses(() => parseWith(schema, body, name), ["VALIDATION_FAILED"]);
          if (r.ok) expect(schema.safeParse(r.value).success, name).toBe(true);
          else refused += 1;
        }),
        { seed: FUZZ_SEED, numRuns: FUZZ_RUNS },
      );
      // Most single-field breaks must be caught; a schema that accepts everything would pass the property.
      expect(refused, name).toBeGreaterThan(FUZZ_RUNS / 4);
    }
  });
});

describe("fuzz: x-srp-attestation header (decodeAttestationHeader)", () => {
  let samples: Samples;
  beforeAll(async () => {
    samples = await makeSamples();
  });

  it("random text, random base64url bytes and base64url of mutated attestations: a valid attestation or VALIDATION_FAILED", () => {
    const header = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.string({ unit: "binary", maxLength: 200 }),
      fc.uint8Array({ maxLength: 600 }).map((b) => bytesToBase64url(b)),
      mutation.map(({ path, op, replacement }) =>
        bytesToBase64url(utf8(JSON.stringify(mutate(samples.attestation, path, op, replacement)))),
      ),
      fc.nat().map((cut) => {
        const h = encodeAttestationHeader(samples.attestation);
        return h.slice(0, cut % h.length);
      }),
    );
    fc.assert(
      fc.property(header, (value) => {
        const r = parsesOrRefuses(() => decodeAttestationHeader(value), ["VALIDATION_FAILED"]);
        if (r.ok) expect(SegmentAttestationSchema.safeParse(r.value).success).toBe(true);
      }),
      { seed: FUZZ_SEED, numRuns: FUZZ_RUNS * 3 },
    );
    expect(decodeAttestationHeader(encodeAttestationHeader(samples.attestation))).toEqual(
      samples.attestation,
    );
  });

  it("base64urlToBytes: bytes, or VALIDATION_FAILED for text that is not base64url (incl. a length of 4n+1)", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 50 }), fc.stringMatching(/^[A-Za-z0-9_-]{0,50}$/)),
        (text) => {
          parsesOrRefuses(() => base64urlToBytes(text), ["VALIDATION_FAILED"]);
        },
      ),
      { seed: FUZZ_SEED, numRuns: FUZZ_RUNS * 3 },
    );
  });
});

describe("fuzz: signed statements (tickets, receipts, registrations, stream end, attestations)", () => {
  let samples: Samples;
  beforeAll(async () => {
    samples = await makeSamples();
  });
  const runs = Math.max(20, Math.floor(FUZZ_RUNS / 5)); // each run checks a signature: ~ms

  /** Mutates a valid statement; whatever still passes its schema goes to the verifier. */
  async function fuzzVerifier<T>(
    sample: T,
    schema: z.ZodType,
    verify: (value: T) => Promise<void>,
    codes: protocol.ErrorCode[],
  ): Promise<void> {
    await expect(verify(sample)).resolves.toBeUndefined();
    let verified = 0;
    await fc.assert(
      fc.asyncProperty(mutation, async ({ path, op, replacement }) => {
        const parsed = schema.safeParse(mutate(sample as Json, path, op, replacement));
        if (!parsed.success) return;
        verified += 1;
        await parsesOrRefusesAsync(() => verify(parsed.data as T), codes);
      }),
      { seed: FUZZ_SEED, numRuns: runs },
    );
    // Mutations that still pass the schema must reach the verifier, or this tests the schema twice.
    expect(verified).toBeGreaterThan(runs / 10);
  }

  it("tickets: verifyTicket is fine or BAD_SIGNATURE / TICKET_EXPIRED", async () => {
    await fuzzVerifier(
      samples.ticket,
      protocol.TicketSchema,
      (t) => verifyTicket(t, samples.ticketKey, NOW),
      ["BAD_SIGNATURE", "TICKET_EXPIRED"],
    );
  });

  it("receipts: verifyReceipt is fine or BAD_SIGNATURE / VALIDATION_FAILED", async () => {
    await fuzzVerifier(samples.receipt, protocol.ReceiptSchema, (r) => verifyReceipt(r, samples.ticket), [
      "BAD_SIGNATURE",
      "VALIDATION_FAILED",
    ]);
  });

  it("stream and node registrations, stream end, segment attestations: fine or BAD_SIGNATURE", async () => {
    await fuzzVerifier(
      samples.streamRegistration,
      protocol.StreamRegistrationSchema,
      verifyStreamRegistration,
      ["BAD_SIGNATURE"],
    );
    await fuzzVerifier(samples.nodeRegistration, protocol.NodeRegistrationSchema, verifyNodeRegistration, [
      "BAD_SIGNATURE",
    ]);
    await fuzzVerifier(
      samples.streamEnd,
      protocol.StreamEndSchema,
      (e) => verifyStreamEnd(e, streamer.address),
      ["BAD_SIGNATURE"],
    );
    await fuzzVerifier(
      samples.attestation,
      SegmentAttestationSchema,
      (a) => verifySegmentAttestation(a, streamer.address, OFF_CHAIN_DOMAIN),
      ["BAD_SIGNATURE"],
    );
  });
});
