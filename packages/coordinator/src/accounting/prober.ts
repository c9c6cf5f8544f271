import {
  bytesToHex,
  decodeAttestationHeader,
  type Evidence,
  generateEd25519,
  parseMediaPlaylist,
  RENDITION_MAIN,
  type SegmentAttestation,
  type SigningDomain,
  signReceipt,
  verifyDelivery,
  verifyFraudProof,
  verifySegmentAttestation,
} from "@streamrp2p/protocol";
import { readBodyCapped } from "@streamrp2p/service";
import { issueSession, type SessionIssuer } from "./sessions.ts";
import type { AccountingStore, ProbeRow } from "./store.ts";

/**
 * What Chromium sends for the player's cross-origin fetches. Probes send the
 * same, so a relay cannot serve probes well and viewers badly.
 */
export const VIEWER_HEADERS: Record<string, string> = {
  accept: "*/*",
  "accept-language": "en-US,en;q=0.9",
  "user-agent":
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36",
  "sec-fetch-dest": "empty",
  "sec-fetch-mode": "cors",
  "sec-fetch-site": "cross-site",
};

export interface ProbeTarget {
  nodeId: string;
  url: string;
  streamId: string;
  signer: string;
}

export interface ProberDeps {
  store: Pick<AccountingStore, "latestSeq">;
  /** The deployment attestations and delivery signatures are checked in. */
  domain: SigningDomain;
  issuer: SessionIssuer;
  /** Where the page would be served from (Origin/Referer of a real viewer). */
  viewerOrigin: () => string;
  fetch?: typeof fetch;
  now?: () => number;
  timeoutMs?: number; // ms per request, default 5_000
  /** Called with the evidence when a node serves bytes that contradict the attestation. */
  onTamper?: (e: Evidence) => Promise<unknown>;
}

/** More than a segment can be (relays refuse pushes over 16 MiB): a node cannot make the prober buffer more. */
const MAX_PROBE_BODY_BYTES = 16 * 1024 * 1024;

/**
 * One GET as a viewer's browser would make it, timed. Redirects are not
 * followed (a node must not aim the prober at another address) and the body
 * is read up to MAX_PROBE_BODY_BYTES.
 */
async function timedGet(f: typeof fetch, url: string, headers: Record<string, string>, timeoutMs: number) {
  const start = performance.now();
  const res = await f(url, { headers, signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
  const ttfb = performance.now() - start;
  if (res.status >= 300 && res.status < 400) {
    await res.body?.cancel();
    throw new Error(`${url}: redirect (HTTP ${res.status}) refused`);
  }
  const body = new Uint8Array(await readBodyCapped(res, MAX_PROBE_BODY_BYTES, url));
  return { res, body, ttfbMs: ttfb, totalMs: performance.now() - start };
}

/**
 * One probe, exactly as a viewer: a ticket through the same code path, the
 * playlist, the init, a recent segment (all with `?session=`), checks of the
 * attestation, time to first byte, throughput and distance from the live
 * edge, and a signed receipt to the node afterwards. The segment must carry
 * the probed node's own delivery signature, so a go-between relay cannot
 * answer for it with its own copy. Returns the row; the caller stores it.
 */
export async function probeOnce(d: ProberDeps, t: ProbeTarget, via: string | null = null): Promise<ProbeRow> {
  const f = d.fetch ?? fetch;
  const now = d.now ?? Date.now;
  const timeoutMs = d.timeoutMs ?? 5_000;
  const row: ProbeRow = {
    nodeId: t.nodeId,
    streamId: t.streamId,
    at: now(),
    ok: false,
    ttfbMs: null,
    throughputBps: null,
    edgeLag: null,
    error: null,
    via,
  };
  try {
    const keys = await generateEd25519();
    const ticket = await issueSession(d.issuer, t.streamId, keys.publicKey, "coordinator-prober", true);
    const origin = d.viewerOrigin();
    const headers = { ...VIEWER_HEADERS, origin, referer: `${origin}/watch/${t.streamId}` };
    const q = `?session=${ticket.sessionId}`;
    const base = `${t.url}/live/${t.streamId}`;
    const pl = await timedGet(f, `${base}/index.m3u8${q}`, headers, timeoutMs);
    if (pl.res.status !== 200) throw new Error(`playlist: HTTP ${pl.res.status}`);
    const playlist = parseMediaPlaylist(new TextDecoder().decode(pl.body));
    const recent = playlist.segments.slice(-3);
    const pick = recent[Math.floor(Math.random() * recent.length)];
    if (!pick) throw new Error("playlist lists no segment");
    const last = playlist.segments.at(-1)?.mediaSequence ?? -1;
    row.edgeLag = Math.max(0, (await d.store.latestSeq(t.streamId)) - last);
    let received = 0;
    if (pick.mapUri) {
      const init = await timedGet(f, `${base}/${pick.mapUri}${q}`, headers, timeoutMs);
      if (init.res.status === 200) received += init.body.byteLength;
    }
    const seg = await timedGet(f, `${base}/${pick.uri}${q}`, headers, timeoutMs);
    if (seg.res.status !== 200) throw new Error(`segment: HTTP ${seg.res.status}`);
    const att: SegmentAttestation = decodeAttestationHeader(
      seg.res.headers.get("x-srp-attestation") ?? undefined,
    );
    if (att.streamId !== t.streamId || att.rendition !== RENDITION_MAIN || att.seq !== pick.mediaSequence) {
      throw new Error(`attestation is for ${att.streamId}/${att.seq}, not segment ${pick.mediaSequence}`);
    }
    await verifySegmentAttestation(att, t.signer, d.domain);
    const digest = bytesToHex(new Uint8Array(await crypto.subtle.digest("SHA-256", seg.body)));
    if (digest !== att.sha256 || seg.body.byteLength !== att.byteLength) {
      const nodeSignature = seg.res.headers.get("x-srp-node-sig");
      // Bytes that came through a go-between may have been changed by it: they count
      // against the probed node only when its own signature names exactly them (a proof).
      const proven =
        nodeSignature !== null &&
        (await verifyFraudProof(d.domain, att, digest, nodeSignature, t.nodeId).then(
          () => true,
          () => false,
        ));
      if (via === null || proven) {
        await d.onTamper?.({
          streamId: t.streamId,
          nodeId: t.nodeId as `0x${string}`,
          attestation: att,
          servedSha256: digest,
          servedBytes: seg.body.byteLength,
          nodeSignature,
        });
      }
      throw new Error(`segment bytes differ from the attestation${proven ? " (proven)" : ""}`);
    }
    await verifyDelivery(d.domain, att, digest, seg.res.headers.get("x-srp-node-sig") ?? "", t.nodeId).catch(
      () => {
        throw new Error("segment carries no valid delivery signature of the probed node");
      },
    );
    received += seg.body.byteLength;
    row.ok = true;
    row.ttfbMs = Math.round(seg.ttfbMs);
    row.throughputBps = Math.round((seg.body.byteLength * 8 * 1000) / Math.max(1, seg.totalMs));
    // Like any viewer, leave a receipt; probe sessions are never credited.
    const receipt = await signReceipt(keys.privateKey, {
      sessionId: ticket.sessionId,
      nodeId: t.nodeId as `0x${string}`,
      streamId: t.streamId,
      bytes: received,
      segments: 1,
      lastSeq: att.seq,
      issuedAt: now(),
    });
    await f(`${t.url}/v1/receipts`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body: JSON.stringify({ ticket, receipt }),
      signal: AbortSignal.timeout(timeoutMs),
    })
      .then((r) => r.arrayBuffer())
      .catch(() => {});
  } catch (err) {
    row.ok = false;
    row.error = err instanceof Error ? err.message : String(err);
  }
  return row;
}
