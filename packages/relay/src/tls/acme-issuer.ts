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
  /** One HTTP request to the CA may take this long (a frozen CA must not hang renewal). */
  requestTimeoutMs: number;
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

/**
 * acme-client sends through one shared axios instance: its CA trust and
 * timeout are this process's. Its own retries are bounded to one (a down CA is
 * retried by CertificateManager's backoff, not inside one attempt).
 */
function configureTransport(settings: AcmeSettings): void {
  const d = acme.axios.defaults as typeof acme.axios.defaults & {
    acmeSettings?: { retryMaxAttempts: number; retryDefaultDelay: number };
  };
  d.timeout = settings.requestTimeoutMs;
  d.httpsAgent = settings.caPem ? new Agent({ ca: [...rootCertificates, settings.caPem] }) : undefined;
  if (d.acmeSettings) {
    d.acmeSettings.retryMaxAttempts = 1;
    d.acmeSettings.retryDefaultDelay = 1; // s
  }
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
    if (err instanceof SrpError) throw err;
    throw new SrpError("ACME_FAILED", `ACME order for ${settings.identifier} failed: ${String(err)}`, {
      cause: err,
    });
  } finally {
    for (const t of tokens) responder.delete(t);
  }
}
