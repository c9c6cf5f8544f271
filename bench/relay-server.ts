/**
 * The relay under test, in its own process (so the load generator never
 * shares its event loop): `--streams` streams of `--segments` cached segments
 * of `--size` bytes each, pushed through the relay's own ingest, served by
 * `--workers` processes. Writes the same files (segments and each stream's
 * playlist as the relay serves it) under `--out` at the same paths, for nginx.
 * Prints the relay's base URL on stdout when ready.
 *
 * One stream is called "bench"; with more they are s0, s1, ... With
 * `--tls-key`/`--tls-cert` the relay serves HTTPS (HTTP/2 and HTTP/1.1) with them.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { OFF_CHAIN_DOMAIN, sha256Hex, signSegmentAttestation } from "@streamrp2p/protocol";
import { createRelay } from "@streamrp2p/relay";
import { silentLogger } from "@streamrp2p/service";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

const { values } = parseArgs({
  options: {
    size: { type: "string", default: "1048576" }, // bytes per segment
    out: { type: "string" }, // directory
    workers: { type: "string", default: "1" },
    streams: { type: "string", default: "1" },
    segments: { type: "string", default: "1" }, // per stream
    // HTTPS with this key and chain (PEM files); the parent trusts it via NODE_EXTRA_CA_CERTS.
    "tls-key": { type: "string" },
    "tls-cert": { type: "string" },
  },
});
const size = Number(values.size);
const streamCount = Number(values.streams);
const segments = Number(values.segments);
const streamer = privateKeyToAccount(generatePrivateKey());
const relay = createRelay(
  {
    ingest: true,
    port: 0,
    workers: Number(values.workers),
    ...(values["tls-key"] && values["tls-cert"]
      ? { tls: { mode: "files" as const, keyFile: values["tls-key"], certFile: values["tls-cert"] } }
      : {}),
  },
  {
    account: privateKeyToAccount(generatePrivateKey()),
    log: silentLogger,
    directory: { signerOf: async () => streamer.address.toLowerCase() },
  },
);
await relay.start();

async function push(streamId: string, file: string, kind: "init" | "main", seq: number, body: Buffer) {
  const att = await signSegmentAttestation(streamer, OFF_CHAIN_DOMAIN, {
    streamId,
    rendition: kind,
    seq,
    initVersion: 0,
    sha256: sha256Hex(body),
    byteLength: body.length,
    durationMs: kind === "init" ? 0 : 1000,
    producedAt: Date.now(),
  });
  const res = await fetch(`${relay.url}/live/${streamId}/${file}`, {
    method: "PUT",
    headers: {
      "x-srp-attestation": Buffer.from(JSON.stringify(att)).toString("base64url"),
      "x-srp-init": "0",
    },
    body: new Uint8Array(body),
  });
  if (!res.ok) throw new Error(`PUT ${streamId}/${file}: ${res.status} ${await res.text()}`);
}

const ids = streamCount === 1 ? ["bench"] : Array.from({ length: streamCount }, (_, i) => `s${i}`);
for (const streamId of ids) {
  const dir = values.out ? join(values.out, "live", streamId) : undefined;
  if (dir) mkdirSync(dir, { recursive: true });
  await push(streamId, "init-0.mp4", "init", 0, randomBytes(1000));
  for (let seq = 0; seq < segments; seq++) {
    const bytes = randomBytes(size);
    await push(streamId, `seg-${seq}.m4s`, "main", seq, bytes);
    if (dir) writeFileSync(join(dir, `seg-${seq}.m4s`), bytes);
  }
}
await new Promise((r) => setTimeout(r, 500)); // workers' copies catch up with the last pushes
for (const streamId of ids) {
  if (!values.out) break;
  const playlist = await fetch(`${relay.url}/live/${streamId}/index.m3u8`);
  if (!playlist.ok) throw new Error(`playlist of ${streamId}: ${playlist.status}`);
  writeFileSync(join(values.out, "live", streamId, "index.m3u8"), await playlist.text());
}
console.log(relay.url);
process.on("SIGTERM", () => void relay.stop().then(() => process.exit(0)));
