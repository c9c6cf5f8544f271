/**
 * The relay under test, in its own process (so the load generator never
 * shares its event loop): one stream, one cached segment of --size bytes.
 * Prints the segment URL on stdout when ready.
 */
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { OFF_CHAIN_DOMAIN, sha256Hex, signSegmentAttestation } from "@streamrp2p/protocol";
import { createRelay } from "@streamrp2p/relay";
import { silentLogger } from "@streamrp2p/service";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

const { values } = parseArgs({ options: { size: { type: "string" }, out: { type: "string" } } });
const size = Number(values.size ?? 1_048_576);
const streamer = privateKeyToAccount(generatePrivateKey());
const relay = createRelay(
  { ingest: true, port: 0 },
  {
    account: privateKeyToAccount(generatePrivateKey()),
    log: silentLogger,
    directory: { signerOf: async () => streamer.address.toLowerCase() },
  },
);
await relay.start();

const bytes = randomBytes(size);
for (const [kind, seq, body] of [
  ["init", 0, randomBytes(1000)],
  ["main", 0, bytes],
] as const) {
  const att = await signSegmentAttestation(streamer, OFF_CHAIN_DOMAIN, {
    streamId: "bench",
    rendition: kind,
    seq,
    initVersion: 0,
    sha256: sha256Hex(body),
    byteLength: body.length,
    durationMs: kind === "init" ? 0 : 1000,
    producedAt: Date.now(),
  });
  const file = kind === "init" ? "init-0.mp4" : "seg-0.m4s";
  const res = await fetch(`${relay.url}/live/bench/${file}`, {
    method: "PUT",
    headers: {
      "x-srp-attestation": Buffer.from(JSON.stringify(att)).toString("base64url"),
      "x-srp-init": "0",
    },
    body: new Uint8Array(body),
  });
  if (!res.ok) throw new Error(`PUT ${file}: ${res.status} ${await res.text()}`);
}
if (values.out) (await import("node:fs")).writeFileSync(values.out, bytes);
console.log(`${relay.url}/live/bench/seg-0.m4s`);
process.on("SIGTERM", () => void relay.stop().then(() => process.exit(0)));
