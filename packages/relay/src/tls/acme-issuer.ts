import { generateKeyPairSync } from "node:crypto";
import { Agent } from "node:https";
import { isIP } from "node:net";
import { rootCertificates } from "node:tls";
import { SrpError } from "@streamrp2p/protocol";
import * as acme from "acme-client";

/** Where a CA is and how this relay talks to it. */
export interface AcmeSettings {
  /** The CA's ACME directory URL (e.g. Let's Encrypt's). */
  directoryUrl: string;
  /** The account's contact, e.g. mailto:ops@example.com; optional at most CAs. */
  contact?: string;
  /** The CA's certificate profile (ACME profiles draft), e.g. "shortlived"; default the CA's. */
  profile?: string;
  /** The name the certificate is for: a DNS name, or the relay's public IP address. */
  identifier: string;
  /** Extra CA certificates (PEM) trusted for the directory's own HTTPS: a private CA. */
  caPem?: string;
  /**
   * One HTTP request to the CA, from connect to its last byte, may take this
   * long: a frozen CA, or one trickling its answer, must not hang renewal.
   */
  requestTimeoutMs: number;
  /** The largest answer the CA may send one request (bytes, decompressed). */
  maxResponseBytes: number;
  /** Polls of an authorization or order while the CA validates, and their delays. */
  pollAttempts: number;
  pollMinMs: number;
  pollMaxMs: number;
}

/** Answers the CA's http-01 requests while an order is open: token -> key authorization. */
export interface ChallengeResponder {
  set(token: string, keyAuthorization: string): void;
  delete(token: string): void;
}

/** A fresh ECDSA P-256 key (PEM, PKCS#8): the account's, or a certificate's. */
export function newKey(): string {
  return generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey.export({
    type: "pkcs8",
    format: "pem",
  }) as string;
}

/** The deadline of every request acme-client sends: the settings of the order in progress. */
let requestDeadlineMs = 0;

/**
 * acme-client sends through one shared axios instance: its CA trust, deadline
 * and size cap are this process's. axios's own `timeout` is a socket idle
 * timeout (a byte per second resets it), so every request also gets an
 * AbortSignal that ends it at the deadline however its bytes trickle.
 * acme-client's own retries are bounded to one (a down CA is retried by
 * CertificateManager's backoff, not inside one attempt).
 */
function configureTransport(settings: AcmeSettings): void {
  const d = acme.axios.defaults as typeof acme.axios.defaults & {
    acmeSettings?: { retryMaxAttempts: number; retryDefaultDelay: number };
  };
  d.timeout = settings.requestTimeoutMs;
  d.maxContentLength = settings.maxResponseBytes;
  d.maxRedirects = 0; // an ACME CA answers where its directory says; a redirect is not followed anywhere
  d.httpsAgent = settings.caPem ? new Agent({ ca: [...rootCertificates, settings.caPem] }) : undefined;
  if (d.acmeSettings) {
    d.acmeSettings.retryMaxAttempts = 1;
    d.acmeSettings.retryDefaultDelay = 1; // s
  }
  if (requestDeadlineMs === 0) {
    acme.axios.interceptors.request.use((config) => {
      config.signal = AbortSignal.timeout(requestDeadlineMs);
      return config;
    });
    // First in the response chain (axios documents `handlers` as public), ahead of acme-client's
    // retry interceptor, which retries an answerless failure once and then fails with a
    // TypeError that hides what went wrong.
    const chain = (acme.axios.interceptors.response as unknown as { handlers: unknown[] }).handlers;
    chain.unshift({ fulfilled: undefined, rejected: transportFailure, synchronous: false, runWhen: null });
  }
  requestDeadlineMs = settings.requestTimeoutMs;
}

/**
 * A request to the CA that got no whole answer (refused, reset, past its
 * deadline, over maxResponseBytes) fails the attempt as ACME_FAILED saying
 * why; an HTTP answer goes on to acme-client (its retry of 429 and 5xx).
 */
function transportFailure(error: unknown): Promise<never> {
  const e = error as { response?: unknown; code?: unknown; message?: unknown } | undefined;
  if (e?.response !== undefined) return Promise.reject(error);
  // axios's CanceledError: the deadline's AbortSignal fired.
  const why =
    e?.code === "ERR_CANCELED"
      ? `a request to the CA took over ${requestDeadlineMs} ms`
      : `a request to the CA failed: ${String(e?.message ?? error)}`;
  // An SrpError carries no axios `config`: acme-client's interceptor passes it through untouched.
  return Promise.reject(new SrpError("ACME_FAILED", why, { cause: error }));
}

/**
 * One ACME order for `settings.identifier` over http-01: account (created or
 * found from the account key), order, challenge answered by `responder`,
 * finalize with a new key. Returns the key and chain. Anything the CA does
 * wrong (refusal, garbage, a stuck order) is ACME_FAILED.
 */
export async function issueCertificate(
  settings: AcmeSettings,
  accountKey: string,
  responder: ChallengeResponder,
): Promise<{ key: string; cert: string }> {
  configureTransport(settings);
  const client = new acme.Client({
    directoryUrl: settings.directoryUrl,
    accountKey,
    backoffAttempts: settings.pollAttempts,
    backoffMin: settings.pollMinMs,
    backoffMax: settings.pollMaxMs,
  });
  const tokens: string[] = [];
  try {
    await client.createAccount({
      termsOfServiceAgreed: true,
      ...(settings.contact ? { contact: [settings.contact] } : {}),
    });
    const type = isIP(settings.identifier) ? "ip" : "dns";
    // acme-client's types know neither IP identifiers (RFC 8738) nor profiles; the CA gets them as sent.
    const order = await client.createOrder({
      identifiers: [{ type, value: settings.identifier }] as { type: "dns"; value: string }[],
      ...(settings.profile ? { profile: settings.profile } : {}),
    } as Parameters<typeof client.createOrder>[0]);
    for (const authz of await client.getAuthorizations(order)) {
      if (authz.status === "valid") continue; // reused by the CA
      const challenge = authz.challenges.find((c) => c.type === "http-01");
      if (!challenge) throw new SrpError("ACME_FAILED", "the CA offers no http-01 challenge");
      const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
      responder.set(challenge.token, keyAuthorization);
      tokens.push(challenge.token);
      await client.completeChallenge(challenge);
      await client.waitForValidStatus(challenge);
    }
    const key = newKey();
    const [, csr] = await acme.crypto.createCsr(
      type === "ip"
        ? { altNames: [settings.identifier] }
        : { commonName: settings.identifier, altNames: [settings.identifier] },
      key,
    );
    const finalized = await client.finalizeOrder(order, csr);
    const cert = await client.getCertificate(finalized);
    return { key, cert };
  } catch (err) {
    const why = err instanceof SrpError ? err.message : String(err);
    throw new SrpError("ACME_FAILED", `ACME order for ${settings.identifier} failed: ${why}`, {
      cause: err,
    });
  } finally {
    for (const t of tokens) responder.delete(t);
  }
}
