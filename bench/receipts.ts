/**
 * Receipt verification throughput on one core, beside the raw native Ed25519
 * verify rate measured in the same run.
 *
 *   node --import tsx bench/receipts.ts [--receipts 20000] [--sessions 500]
 *
 * "Verified" means what the coordinator does per receipt in a batch: schema
 * validation of the submission, the ticket (coordinator signature, checked
 * once per session and remembered), the node and session binding, and the
 * viewer's Ed25519 signature.
 */
import { createPublicKey, verify } from "node:crypto";
import { parseArgs } from "node:util";
import { ReceiptVerifier } from "@streamrp2p/coordinator";
import {
  generateEd25519,
  parseWith,
  type ReceiptSubmission,
  ReceiptSubmissionSchema,
  receiptSigningBytes,
  signReceipt,
  signTicket,
} from "@streamrp2p/protocol";

const { values } = parseArgs({
  options: { receipts: { type: "string", default: "20000" }, sessions: { type: "string", default: "500" } },
});
const total = Number(values.receipts);
const sessions = Number(values.sessions);
const say = (line: string) => console.log(`[bench] ${line}`);
const nodeId = `0x${"ab".repeat(20)}` as const;

say(`signing ${total} receipts over ${sessions} sessions…`);
const coordinator = await generateEd25519();
const now = Date.now();
const viewers = await Promise.all(
  Array.from({ length: sessions }, async (_, i) => {
    const key = await generateEd25519();
    const ticket = await signTicket(coordinator.privateKey, {
      sessionId: i.toString(16).padStart(32, "0"),
      streamId: "bench",
      viewerKey: key.publicKey,
      issuedAt: now,
      expiresAt: now + 3_600_000,
    });
    return { key, ticket };
  }),
);
const wire: string[] = [];
for (let i = 0; i < total; i++) {
  const v = viewers[i % sessions] as (typeof viewers)[number];
  const receipt = await signReceipt(v.key.privateKey, {
    sessionId: v.ticket.sessionId,
    nodeId,
    streamId: "bench",
    bytes: 1_000_000 + i,
    segments: 1 + i,
    lastSeq: i,
    issuedAt: now + i,
  });
  wire.push(JSON.stringify({ ticket: v.ticket, receipt }));
  if ((i + 1) % 5000 === 0) say(`  ${i + 1}/${total}`);
}

function rate(name: string, run: () => void, rounds = 3): number {
  let best = 0;
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    run();
    const s = Number(process.hrtime.bigint() - start) / 1e9;
    best = Math.max(best, total / s);
  }
  say(`${name.padEnd(34)} ${best.toFixed(0).padStart(8)} receipts/s (best of ${rounds})`);
  return best;
}

// Baseline: nothing but native Ed25519 verification of the same bytes, keys already imported.
const subs = wire.map((w) => JSON.parse(w) as ReceiptSubmission);
const keys = new Map(
  viewers.map((v) => [
    v.key.publicKey,
    createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: v.key.publicKey }, format: "jwk" }),
  ]),
);
const prepared = subs.map((s) => ({
  data: receiptSigningBytes(s.receipt),
  sig: Buffer.from(s.receipt.signature, "base64url"),
  key: keys.get(s.ticket.viewerKey),
}));
const native = rate("native Ed25519 verify", () => {
  for (const p of prepared) if (!verify(null, p.data, p.key as never, p.sig)) throw new Error("bad");
});

const verifier = new ReceiptVerifier(coordinator.publicKey);
const full = rate("coordinator receipt verification", () => {
  for (const w of wire)
    verifier.verify(parseWith(ReceiptSubmissionSchema, JSON.parse(w), "receipt"), nodeId, now, 0);
});
say(`ratio ${(full / native).toFixed(2)} (target >= 0.7)`);
// One machine-readable line per figure; a figure that could not be measured fails the run.
const figures: Array<[string, number, string]> = [
  ["native_ed25519_verify", native, "per_s"],
  ["receipt_verification", full, "per_s"],
  ["receipts_vs_native", full / native, "ratio"],
];
for (const [name, value, unit] of figures) console.log(`RESULT ${name} ${value.toFixed(3)} ${unit}`);
if (figures.some(([, value]) => !Number.isFinite(value) || value <= 0)) process.exitCode = 1;
