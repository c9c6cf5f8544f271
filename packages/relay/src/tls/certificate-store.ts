import { createPrivateKey, X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import { createSecureContext } from "node:tls";
import { SrpError } from "@streamrp2p/protocol";

/** A key and certificate chain the relay can serve, with what the renewal decision needs. */
export interface ServedCertificate {
  /** PEM, PKCS#8. */
  key: string;
  /** PEM: the leaf first, then the intermediates. */
  cert: string;
  notBefore: number; // ms since the Unix epoch
  notAfter: number; // ms since the Unix epoch
  /** Hex SHA-256 of the leaf (DER), for logs. */
  fingerprint: string;
}

/** Writes a file readable by its owner only, atomically (a crash leaves the old file or the new one). */
export function writeSecret(path: string, data: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data, { mode: 0o600 });
  chmodSync(tmp, 0o600); // the mode above is masked by umask
  renameSync(tmp, path);
}

/**
 * Checks a key and chain: parseable, for `identifier` (a DNS name or an IP
 * address; skipped when undefined), matching the key, and valid at `now`.
 * CERTIFICATE_INVALID says which check failed.
 */
export function validateCertificate(
  key: string,
  cert: string,
  identifier: string | undefined,
  now: number,
): ServedCertificate {
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (err) {
    throw new SrpError("CERTIFICATE_INVALID", "certificate is not a PEM X.509 certificate", { cause: err });
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new SrpError("CERTIFICATE_INVALID", "key is not a PEM private key", { cause: err });
  }
  if (!leaf.checkPrivateKey(privateKey))
    throw new SrpError("CERTIFICATE_INVALID", "certificate is not for this key");
  try {
    // What the TLS stack itself will load (every block of the chain, key size rules): a pair it
    // refuses must never count as served or renewed.
    createSecureContext({ key, cert });
  } catch (err) {
    throw new SrpError("CERTIFICATE_INVALID", `the TLS stack refuses this pair: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (identifier !== undefined) {
    const ok = isIP(identifier) ? leaf.checkIP(identifier) : leaf.checkHost(identifier);
    if (ok === undefined) throw new SrpError("CERTIFICATE_INVALID", `certificate is not for ${identifier}`);
  }
  const { notBefore, notAfter } = checkValidAt(leaf, now, "certificate");
  return {
    key,
    cert,
    notBefore,
    notAfter,
    fingerprint: leaf.fingerprint256.replaceAll(":", "").toLowerCase(),
  };
}

/**
 * How far in the future a certificate's notBefore may be and still count as
 * valid now: clocks of the relay and its CA differ by this much at most.
 */
const CLOCK_SKEW_MS = 5 * 60_000;

/** A certificate's validity period, checked to hold `now`; CERTIFICATE_INVALID says how not. */
function checkValidAt(
  c: X509Certificate,
  now: number,
  what: string,
): { notBefore: number; notAfter: number } {
  const notBefore = Date.parse(c.validFrom);
  const notAfter = Date.parse(c.validTo);
  if (!Number.isFinite(notBefore) || !Number.isFinite(notAfter) || notAfter <= notBefore)
    throw new SrpError("CERTIFICATE_INVALID", `${what} has no usable validity period`);
  if (now >= notAfter)
    throw new SrpError("CERTIFICATE_INVALID", `${what} expired at ${new Date(notAfter).toISOString()}`);
  if (now < notBefore - CLOCK_SKEW_MS)
    throw new SrpError(
      "CERTIFICATE_INVALID",
      `${what} is not valid before ${new Date(notBefore).toISOString()}`,
    );
  return { notBefore, notAfter };
}

/**
 * What a CA sent, checked beyond validateCertificate (key, name, validity of
 * the leaf): the chain has the leaf's issuer, and each certificate in it is
 * valid at `now` and issued and signed by the next one. A CA that sends a
 * leaf with a foreign or no issuer, or a broken chain, gets CERTIFICATE_INVALID
 * and the current certificate stays served. The chain's last certificate is
 * the CA's own affair (the relay holds no list of CA roots to anchor it to).
 */
export function verifyIssuedChain(cert: string, now: number): void {
  const blocks = cert.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
  const chain = blocks.map((pem, i) => {
    try {
      return new X509Certificate(pem);
    } catch (err) {
      throw new SrpError("CERTIFICATE_INVALID", `chain certificate ${i} is not an X.509 certificate`, {
        cause: err,
      });
    }
  });
  if (chain.length < 2)
    throw new SrpError("CERTIFICATE_INVALID", "the CA sent the certificate without its issuer");
  for (const [i, c] of chain.entries()) {
    checkValidAt(c, now, i === 0 ? "certificate" : `chain certificate ${i}`);
    const issuer = chain[i + 1];
    if (issuer && !(c.checkIssued(issuer) && c.verify(issuer.publicKey)))
      throw new SrpError("CERTIFICATE_INVALID", `chain certificate ${i} is not issued by the next one`);
  }
}

/**
 * The relay's TLS directory: the ACME account key, and the served key and
 * chain. Every file is written 0600 in a 0700 directory.
 */
export class CertificateStore {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
  }

  #path(name: string): string {
    return join(this.#dir, name);
  }

  #ensureDir(): void {
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
  }

  /** The ACME account key (PEM), made by `create` on first use. */
  accountKey(create: () => string): string {
    const path = this.#path("account.key");
    if (existsSync(path)) return readFileSync(path, "utf8");
    this.#ensureDir();
    const key = create();
    writeSecret(path, key);
    return key;
  }

  /** The stored key and chain when both files exist (unchecked). */
  read(): { key: string; cert: string } | undefined {
    const keyPath = this.#path("key.pem");
    const certPath = this.#path("cert.pem");
    if (!existsSync(keyPath) || !existsSync(certPath)) return undefined;
    return { key: readFileSync(keyPath, "utf8"), cert: readFileSync(certPath, "utf8") };
  }

  /** Stores a new key and chain (the key first: a crash between leaves a mismatch, refused at load). */
  write(key: string, cert: string): void {
    this.#ensureDir();
    writeSecret(this.#path("key.pem"), key);
    writeSecret(this.#path("cert.pem"), cert);
  }
}
