import { connect } from "node:net";
import {
  bytesToBase64url,
  encodeAttestationHeader,
  initFileName,
  OFF_CHAIN_DOMAIN,
  type SegmentAttestation,
  segmentFileName,
  sha256Hex,
  signSegmentAttestation,
  utf8,
} from "@streamrp2p/protocol";
import fc from "fast-check";
import type { LocalAccount } from "viem";

/**
 * A black-box HTTP fuzzer for our services: random methods, request targets
 * (raw bytes, bad percent-encoding, `..`, overlong, unicode), headers (huge,
 * duplicate, bad content-length / content-type / transfer-encoding), query
 * strings and bodies (random bytes, random JSON, JSON of the right shape with
 * wrong types) sent over raw TCP, so nothing a client library would clean up
 * is cleaned up. Each request gets its own connection.
 */

export type ServiceKind = "relay" | "coordinator" | "origin";

/** Every route of each service, read from their routers (relay.ts, coordinator.ts and its route modules, server.ts). */
export const ROUTES: Record<ServiceKind, readonly { method: string; path: string; body?: string }[]> = {
  relay: [
    { method: "GET", path: "/live/:stream/:file" },
    { method: "PUT", path: "/live/:stream/:file", body: "segment" },
    { method: "POST", path: "/live/:stream/end", body: "StreamEnd" },
    { method: "POST", path: "/v1/receipts", body: "ReceiptSubmission" },
    { method: "GET", path: "/v1/receipts" },
    { method: "GET", path: "/healthz" },
    { method: "GET", path: "/metrics" },
  ],
  coordinator: [
    { method: "POST", path: "/v1/streams", body: "StreamRegistration" },
    { method: "GET", path: "/v1/streams" },
    { method: "GET", path: "/v1/streams/:id" },
    { method: "GET", path: "/v1/streams/:id/nodes" },
    { method: "POST", path: "/v1/streams/:id/upstream", body: "UpstreamRequest" },
    { method: "POST", path: "/v1/streams/:id/sessions", body: "SessionRequest" },
    { method: "POST", path: "/v1/nodes", body: "NodeRegistration" },
    { method: "GET", path: "/v1/nodes" },
    { method: "GET", path: "/v1/nodes/:id/status" },
    { method: "POST", path: "/v1/nodes/:id/heartbeat", body: "Heartbeat" },
    { method: "POST", path: "/v1/nodes/:id/receipts", body: "ReceiptBatch" },
    { method: "GET", path: "/v1/nodes/:id/score" },
    { method: "GET", path: "/v1/nodes/:id/evidence" },
    { method: "POST", path: "/v1/evidence", body: "Evidence" },
    { method: "GET", path: "/v1/epochs" },
    { method: "GET", path: "/v1/epochs/:n" },
    { method: "GET", path: "/v1/epochs/:n/settlement" },
    { method: "GET", path: "/v1/epochs/:n/proofs/:address" },
    { method: "GET", path: "/v1/settlement" },
    { method: "GET", path: "/v1/info" },
    { method: "GET", path: "/watch/:streamId" },
    { method: "GET", path: "/player/:file" },
    { method: "GET", path: "/dashboard" },
    { method: "GET", path: "/assets/:file" },
    { method: "GET", path: "/v1/watch-config" },
    { method: "GET", path: "/healthz" },
    { method: "GET", path: "/metrics" },
  ],
  origin: [
    { method: "GET", path: "/healthz" },
    { method: "GET", path: "/metrics" },
  ],
};

/**
 * 5xx answers that report the server's own state, not the request: a
 * coordinator without a chain has no settlement. Anything else 5xx fails.
 */
const SERVER_STATE_5XX: readonly { path: RegExp; code: string }[] = [
  { path: /^\/v1\/(settlement|epochs\/[^/]+\/(settlement|proofs\/[^/]+))$/, code: "UNAVAILABLE" },
];

/** Field names of the JSON bodies (protocol schemas), so "right shape, wrong types" bodies have the right keys. */
const BODY_KEYS: Record<string, readonly string[]> = {
  StreamEnd: ["streamId", "lastSeq", "producedAt", "signature"],
  ReceiptSubmission: ["ticket", "receipt"],
  StreamRegistration: ["streamId", "signer", "issuedAt", "signature"],
  UpstreamRequest: ["nodeId", "exclude"],
  SessionRequest: ["viewerKey", "region"],
  NodeRegistration: ["nodeId", "url", "region", "capacityMbps", "ingest", "streams", "issuedAt", "signature"],
  Heartbeat: ["nodeId", "connections", "egressBps", "bytesServed", "streams", "draining"],
  ReceiptBatch: ["nodeId", "submissions"],
  Evidence: ["streamId", "nodeId", "attestation", "servedSha256", "servedBytes", "nodeSignature"],
};

export interface FuzzRequest {
  service: ServiceKind;
  /** The exact bytes sent. */
  raw: Buffer;
  /** For the report: method and target as sent (latin1). */
  line: string;
  path: string;
}

export interface FuzzContext {
  /** A stream the coordinator knows, and ids that exist (for deeper paths). */
  streamId: string;
  nodeIds: string[];
  /** Signed attestations (with their true bytes) of `streamId`: PUTs get past the signature check. */
  signed: { attestation: SegmentAttestation; bytes: Buffer }[];
}

/** Signs `count` attestations of random segments with the stream's real key (PUTs then reach the bytes check). */
export async function signedPool(
  signer: LocalAccount,
  streamId: string,
  count: number,
): Promise<FuzzContext["signed"]> {
  const pool: FuzzContext["signed"] = [];
  for (let i = 0; i < count; i++) {
    const bytes = Buffer.from(`fuzz segment ${i} `.repeat(1 + i * 7));
    const isInit = i % 5 === 0;
    const attestation = await signSegmentAttestation(signer, OFF_CHAIN_DOMAIN, {
      streamId,
      rendition: isInit ? "init" : "main",
      seq: isInit ? i / 5 : i,
      initVersion: isInit ? i / 5 : 0,
      sha256: sha256Hex(bytes),
      byteLength: bytes.length,
      durationMs: 1000,
      producedAt: Date.now(),
    });
    pool.push({ attestation, bytes });
  }
  return pool;
}

const EDGE_STRINGS = [
  "",
  "%",
  "%ff",
  "%zz",
  "%c0%af",
  "%2e%2e",
  "..",
  "../..",
  "%2F",
  "\u00e9\u4e2d\ud83d\ude00",
  "a".repeat(300),
  "0",
  "-1",
  "1e400",
  "NaN",
  "9007199254740993",
  "0x",
  "null",
];

/**
 * A path parameter. Weighted: most are well-formed (so requests reach the
 * handlers), some are what only the HTTP parser or the router sees.
 */
function idValue(ctx: FuzzContext): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(ctx.streamId, ...ctx.nodeIds, "demo", "0", "1") },
    {
      weight: 4,
      arbitrary: fc.constantFrom(...EDGE_STRINGS).map((e) => e.replace(/[^\x21-\x7e]/gu, encodeURIComponent)),
    },
    { weight: 4, arbitrary: fc.string({ maxLength: 30 }).map(encodeURIComponent) },
    { weight: 1, arbitrary: fc.stringMatching(/^[!-~]{1,20}$/) }, // printable, unencoded: '%' alone, '?', '#', '"'
    { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 20 }) }, // raw bytes: the HTTP parser's job
    { weight: 1, arbitrary: fc.integer({ min: 1000, max: 20_000 }).map((n) => "x".repeat(n)) }, // overlong
  );
}

function fileValue(ctx: FuzzContext): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom("index.m3u8", "window.json", "init-0.mp4", "seg-1.m4s", "seg-999999999999999.m4s", "end"),
    fc.nat({ max: 40 }).map((n) => `seg-${n}.m4s`),
    fc.nat({ max: 8 }).map((n) => `init-${n}.mp4`),
    idValue(ctx),
  );
}

const queryPart = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(
        fc.constantFrom("after", "wait", "session", "region", "streamId", "node", "x"),
        fc.oneof(
          fc.constantFrom(
            "1",
            "-1",
            "-2",
            "0",
            "1.5",
            "1e400",
            "0123456789abcdef0123456789abcdef",
            "local",
            "",
          ),
          fc.string({ maxLength: 12 }).map(encodeURIComponent),
        ),
      )
      .map(([k, v]) => `${k}=${v}`),
  },
  { weight: 2, arbitrary: fc.constantFrom("&&", "=", "%", "a=%ff", "=%", "after=%zz") },
);

function jsonBody(kind: string | undefined, ctx: FuzzContext): fc.Arbitrary<string> {
  const wrong = fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.constantFrom(-1, 1e308, "", null, [], {}, true, ctx.streamId, ctx.nodeIds[0] ?? "", "A".repeat(5000)),
  );
  const keys = BODY_KEYS[kind ?? ""] ?? ["a"];
  const shaped = fc
    .tuple(fc.subarray([...keys]), fc.array(wrong, { minLength: keys.length, maxLength: keys.length }))
    .map(([ks, vs]) => JSON.stringify(Object.fromEntries(ks.map((k, i) => [k, vs[i]]))));
  return fc.oneof(
    shaped,
    fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
    fc.constantFrom("{", "[1,", '{"__proto__":{"x":1}}', `{"a":${"[".repeat(5000)}}`, "null", '""'),
  );
}

const contentType = fc.constantFrom(
  "application/json",
  "application/json; charset=utf-8",
  "text/plain",
  "application/octet-stream",
  "",
  "application/jsonx",
  "multipart/form-data; boundary=x",
);

interface Parts {
  method: string;
  target: string;
  headers: [string, string][];
  body: Buffer;
  /** How content-length is written: true length, none, wrong, garbage, duplicated, or chunked. */
  framing: "length" | "none" | "short" | "garbage" | "duplicate" | "chunked" | "badchunked";
}

function requestParts(service: ServiceKind, ctx: FuzzContext): fc.Arbitrary<Parts> {
  const route = fc.constantFrom(...ROUTES[service]);
  return fc
    .record({
      route,
      methodKind: fc.constantFrom(...Array<"route">(9).fill("route"), "other"),
      otherMethod: fc.constantFrom(
        "GET",
        "HEAD",
        "POST",
        "PUT",
        "DELETE",
        "PATCH",
        "OPTIONS",
        "get",
        "FOO",
        "M".repeat(100),
        "G\u00e9T",
      ),
      // Parameters in route order: ids, then a file name where the route has one.
      params: fc.tuple(idValue(ctx), fileValue(ctx), idValue(ctx)),
      query: fc.option(fc.array(queryPart, { maxLength: 4 }), { nil: undefined }),
      mangle: fc.constantFrom(
        "none",
        "none",
        "none",
        "none",
        "prefix",
        "dots",
        "double-slash",
        "absolute",
        "random",
      ),
      randomTarget: fc.string({ unit: "binary", maxLength: 60 }),
      contentType: fc.oneof(fc.constant("application/json"), fc.option(contentType, { nil: undefined })),
      extra: fc.array(
        fc.oneof(
          fc.constantFrom<[string, string]>(
            ["authorization", "Bearer x"],
            ["authorization", "Bearer "],
            ["x-srp-init", "1"],
            ["x-srp-init", "-1"],
            ["x-srp-init", "99999999999"],
            ["x-srp-attestation", "%%%"],
            ["x-srp-attestation", ""],
            ["content-type", "application/json"],
            ["expect", "100-continue"],
            ["connection", "keep-alive"],
            ["connection", "upgrade"],
            ["upgrade", "websocket"],
            ["host", "evil.example"],
            ["x-big", "b".repeat(20_000)],
          ),
          // Valid header names with random values; rarely a name the HTTP parser must refuse.
          fc.tuple(fc.stringMatching(/^x-[a-z0-9-]{1,10}$/), fc.stringMatching(/^[ -~]{0,40}$/)),
          fc.tuple(fc.stringMatching(/^x-[a-z0-9-]{1,10}$/), fc.stringMatching(/^[ -~]{0,40}$/)),
          fc.tuple(fc.string({ minLength: 1, maxLength: 10 }), fc.string({ maxLength: 40 })),
        ),
        { maxLength: 3 },
      ),
      manyHeaders: fc.constantFrom(...Array<number>(30).fill(0), 150, 3000),
      attestation: fc.option(fc.nat(), { nil: undefined }),
      bodyKind: fc.constantFrom("none", "json", "json", "bytes", "signed", "signed-wrong"),
      json: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
      bytes: fc.uint8Array({ maxLength: 4096 }),
      framing: fc.constantFrom<Parts["framing"]>(
        ...Array<"length">(12).fill("length"),
        "none",
        "short",
        "garbage",
        "duplicate",
        "chunked",
        "badchunked",
      ),
    })
    .chain((r) => jsonBody(r.route.body, ctx).map((shaped) => ({ ...r, shaped })))
    .map((r) => {
      let i = 0;
      let target = r.route.path.replace(/:[a-zA-Z]+/g, () => r.params[i++] ?? "");
      if (r.query) target += `?${r.query.join("&")}`;
      if (r.mangle === "prefix") target = `/x${target}`;
      if (r.mangle === "dots") target = target.replace("/", "/../");
      if (r.mangle === "double-slash") target = `/${target}`;
      if (r.mangle === "absolute") target = `http://127.0.0.1${target}`;
      if (r.mangle === "random") target = r.randomTarget;
      const headers: [string, string][] = [];
      if (r.contentType !== undefined) headers.push(["content-type", r.contentType]);
      let body: Buffer = Buffer.alloc(0);
      const pick =
        ctx.signed.length > 0 && r.attestation !== undefined
          ? ctx.signed[r.attestation % ctx.signed.length]
          : undefined;
      if (r.bodyKind === "json") body = Buffer.from(r.shaped);
      if (r.bodyKind === "bytes") body = Buffer.from(r.bytes);
      if ((r.bodyKind === "signed" || r.bodyKind === "signed-wrong") && pick) {
        // At its own path: the push passes the size, signature and path checks and reaches the bytes check.
        if (r.route.method === "PUT" && r.mangle === "none") {
          const a = pick.attestation;
          target = `/live/${a.streamId}/${a.rendition === "init" ? initFileName(a.seq) : segmentFileName(a.seq)}`;
        }
        headers.push(["x-srp-attestation", encodeAttestationHeader(pick.attestation)]);
        headers.push(["x-srp-init", "0"]);
        body = r.bodyKind === "signed" ? pick.bytes : Buffer.from(r.bytes);
      } else if (r.attestation !== undefined) {
        headers.push(["x-srp-attestation", bytesToBase64url(utf8(r.json))]);
      }
      headers.push(...r.extra);
      for (let h = 0; h < r.manyHeaders; h++) headers.push([`x-h${h}`, "v"]);
      return {
        method: r.methodKind === "route" ? r.route.method : r.otherMethod,
        target,
        headers,
        body,
        framing: body.length === 0 && r.framing === "length" ? "none" : r.framing,
      };
    });
}

/** The bytes of one HTTP/1.1 request; `Connection: close` so the server ends the exchange. */
function serialize(p: Parts, host: string): Buffer {
  const head: string[] = [`${p.method} ${p.target} HTTP/1.1`, `host: ${host}`, "connection: close"];
  for (const [k, v] of p.headers) head.push(`${k}: ${v}`);
  let body = p.body;
  switch (p.framing) {
    case "length":
      head.push(`content-length: ${body.length}`);
      break;
    case "short": // declares fewer bytes than sent: the rest is a second, garbage request
      head.push(`content-length: ${Math.floor(body.length / 2)}`);
      break;
    case "garbage":
      head.push("content-length: -1x");
      break;
    case "duplicate":
      head.push(`content-length: ${body.length}`, `content-length: ${body.length + 1}`);
      break;
    case "chunked":
      head.push("transfer-encoding: chunked");
      body = Buffer.concat([
        Buffer.from(`${body.length.toString(16)}\r\n`),
        body,
        Buffer.from("\r\n0\r\n\r\n"),
      ]);
      break;
    case "badchunked":
      head.push("transfer-encoding: chunked", `content-length: ${body.length}`);
      body = Buffer.concat([Buffer.from("zz\r\n"), body]);
      break;
    case "none":
      break;
  }
  // latin1 keeps raw target bytes raw (a UTF-8 string's code units become bytes as they are).
  return Buffer.concat([Buffer.from(`${head.join("\r\n")}\r\n\r\n`, "latin1"), body]);
}

export function generateRequests(
  service: ServiceKind,
  url: string,
  ctx: FuzzContext,
  seed: number,
  count: number,
): FuzzRequest[] {
  const host = new URL(url).host;
  return fc.sample(requestParts(service, ctx), { seed, numRuns: count }).map((p) => ({
    service,
    raw: serialize(p, host),
    line: `${p.method} ${p.target}`,
    path: p.target.split("?")[0] ?? "",
  }));
}

export interface Answer {
  /** 0: no response (the server closed, or the client gave up after `timeoutMs`). */
  status: number;
  code: string | undefined;
  ms: number;
}

const HEAD_END = "\r\n\r\n";
const MAX_READ = 256 * 1024; // bytes of a response read before we stop (status and error body are at its start)

/** Sends `raw` on a fresh connection and reads the status (and the error code of a JSON error body). */
export function send(url: string, raw: Buffer, timeoutMs: number): Promise<Answer> {
  const { hostname, port } = new URL(url);
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    let data = Buffer.alloc(0);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const text = data.toString("latin1");
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      const body = text.slice(text.indexOf(HEAD_END) + HEAD_END.length);
      const code = /^\{"error":\{"code":"([A-Z_]+)"/.exec(body)?.[1];
      resolve({ status, code, ms: performance.now() - started });
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on("data", (d: Buffer) => {
      data = Buffer.concat([data, d]);
      const text = data.toString("latin1");
      const headEnd = text.indexOf(HEAD_END);
      if (headEnd === -1) {
        if (data.length > MAX_READ) finish();
        return;
      }
      // Enough once the head is in and either the status is not 5xx or the error body is complete.
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(text.slice(0, headEnd))?.[1] ?? Number.NaN);
      const bodyBytes = data.length - headEnd - HEAD_END.length;
      if (!/^HTTP\/1\.1 5/.test(text) || !(bodyBytes < length) || data.length > MAX_READ) finish();
    });
    socket.on("error", finish);
    socket.on("close", finish);
    socket.write(raw, () => socket.end()); // half-close: a server waiting for more body sees EOF
  });
}

export interface FuzzFailure {
  service: ServiceKind;
  index: number;
  status: number;
  code: string | undefined;
  request: string;
}

export interface FuzzStats {
  requests: number;
  byStatus: Record<string, number>;
  /** "status code" → count: which checks answered. */
  byCode: Record<string, number>;
  failures: FuzzFailure[];
  slowestMs: number;
}

/** The path as the server's router sees it (dot segments and absolute-form resolved). */
function routedPath(target: string): string {
  try {
    return new URL(target, "http://local").pathname;
  } catch {
    return target;
  }
}

/** Whether an answer is a failure: any 5xx but the documented server-state ones (HEAD answers carry no code). */
export function isFailure(req: FuzzRequest, a: Answer): boolean {
  if (a.status < 500) return false;
  const path = routedPath(req.path);
  const head = req.line.startsWith("HEAD ");
  return !SERVER_STATE_5XX.some(
    (allowed) =>
      allowed.path.test(path) &&
      a.status === 503 &&
      (allowed.code === a.code || (head && a.code === undefined)),
  );
}

/** Sends `requests` with `concurrency` in flight; every 5xx (outside SERVER_STATE_5XX) is a failure. */
export async function runRequests(
  urlOf: (service: ServiceKind) => string,
  requests: FuzzRequest[],
  concurrency: number,
  timeoutMs: number,
  stats: FuzzStats,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < requests.length) {
      const index = next++;
      const req = requests[index] as FuzzRequest;
      const a = await send(urlOf(req.service), req.raw, timeoutMs);
      stats.requests += 1;
      stats.byStatus[a.status] = (stats.byStatus[a.status] ?? 0) + 1;
      const key = `${a.status} ${a.code ?? "-"}`;
      stats.byCode[key] = (stats.byCode[key] ?? 0) + 1;
      stats.slowestMs = Math.max(stats.slowestMs, a.ms);
      if (isFailure(req, a)) {
        stats.failures.push({
          service: req.service,
          index,
          status: a.status,
          code: a.code,
          request: JSON.stringify(req.raw.subarray(0, 2048).toString("latin1")),
        });
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
