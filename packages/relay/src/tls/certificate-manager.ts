import { readFileSync } from "node:fs";
import { SrpError } from "@streamrp2p/protocol";
import type { Logger } from "@streamrp2p/service";
import type { RelayMetrics } from "../metrics.ts";
import { type AcmeSettings, issueCertificate, newKey } from "./acme-issuer.ts";
import {
  type CertificateStore,
  type ServedCertificate,
  validateCertificate,
  verifyIssuedChain,
} from "./certificate-store.ts";

/** Where the served certificate comes from. */
export type CertificateSource =
  | { mode: "acme"; acme: AcmeSettings; store: CertificateStore }
  /** An operator's files (certbot, a load balancer's): re-read on every check, swapped when they change. */
  | { mode: "files"; keyFile: string; certFile: string };

export interface CertificateManagerOptions {
  source: CertificateSource;
  /** Renew once this fraction of the certificate's lifetime is left (1/3: a 90-day one at 30 days). */
  renewBeforeFraction: number;
  /** A failed renewal is retried after this, doubling per failure up to retryMaxMs. */
  retryMinMs: number;
  retryMaxMs: number;
  /** How often the renewal decision is made. */
  checkIntervalMs: number;
  /** Without a usable certificate at start: ACME attempts before start fails. */
  startAttempts: number;
  now: () => number;
  log: Logger;
  metrics: Pick<RelayMetrics, "tlsRenewals" | "tlsFailures" | "tlsExpiry">;
  /** Called with every new certificate after the first (serve it from now on). */
  onRenewed(cert: ServedCertificate): void;
}

export interface CertificateStatus {
  mode: "acme" | "files";
  identifier?: string;
  fingerprint: string;
  notAfter: string;
  expiresInSeconds: number;
  renewAt: string;
  renewals: number;
  failures: number;
  /** Failures since the last success; the next attempt waits for nextAttemptAt. */
  consecutiveFailures: number;
  nextAttemptAt?: string;
  lastError?: string;
}

/**
 * The relay's certificate: loaded from disk or obtained over ACME at start,
 * renewed when `renewBeforeFraction` of its lifetime is left. A CA that is
 * down, slow or answers nonsense costs nothing but a log line and a metric:
 * the current certificate stays served and the attempt is retried with
 * exponential backoff.
 */
export class CertificateManager {
  readonly #o: CertificateManagerOptions;
  /** http-01 tokens of the order in progress -> key authorization (at most a few). */
  readonly #challenges = new Map<string, string>();
  #current: ServedCertificate | undefined;
  #renewals = 0;
  #failures = 0;
  #consecutive = 0;
  #nextAttemptAt = 0;
  #lastError: string | undefined;
  #inFlight: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: CertificateManagerOptions) {
    if (!(options.renewBeforeFraction > 0 && options.renewBeforeFraction < 1))
      throw new SrpError("BAD_REQUEST", "renewBeforeFraction must be between 0 and 1");
    this.#o = options;
    options.metrics.tlsExpiry.setCollector(() =>
      this.#current ? (this.#current.notAfter - options.now()) / 1000 : 0,
    );
  }

  get identifier(): string | undefined {
    return this.#o.source.mode === "acme" ? this.#o.source.acme.identifier : undefined;
  }

  /** The certificate served now (after start). */
  get current(): ServedCertificate {
    if (!this.#current) throw new SrpError("UNAVAILABLE", "no certificate yet");
    return this.#current;
  }

  /** The key authorization for an http-01 token of an order in progress. */
  challenge(token: string): string | undefined {
    return this.#challenges.get(token);
  }

  /** When the current certificate is renewed: renewBeforeFraction of its lifetime before it expires. */
  renewAt(cert: ServedCertificate): number {
    return cert.notAfter - (cert.notAfter - cert.notBefore) * this.#o.renewBeforeFraction;
  }

  /** Loads or obtains the first certificate, then checks for renewal every checkIntervalMs. */
  async start(): Promise<ServedCertificate> {
    const { source, log } = this.#o;
    if (source.mode === "files") {
      this.#current = this.#readFiles(source);
    } else {
      this.#current = this.#loadStored(source.store);
      for (let attempt = 1; !this.#current; attempt++) {
        await this.#obtain(source);
        if (this.#current) break;
        if (attempt >= this.#o.startAttempts)
          throw new SrpError("ACME_FAILED", `no certificate after ${attempt} attempts: ${this.#lastError}`);
        await new Promise((r) => setTimeout(r, this.#backoffMs()));
      }
    }
    const cert = this.#current;
    log.info("certificate", this.#describe(cert));
    this.#timer = setInterval(() => {
      this.check().catch((err: unknown) => log.error("certificate check failed", { err }));
    }, this.#o.checkIntervalMs);
    this.#timer.unref();
    return cert;
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /**
   * The renewal decision, at `now()`: renews (ACME) or re-reads (files) when
   * due and not backing off. One at a time; concurrent calls share it.
   */
  check(): Promise<void> {
    this.#inFlight ??= this.#check().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #check(): Promise<void> {
    const { source, now } = this.#o;
    if (source.mode === "files") {
      try {
        const next = this.#readFiles(source);
        if (next.fingerprint !== this.#current?.fingerprint) this.#install(next);
      } catch (err) {
        this.#fail(err);
      }
      return;
    }
    const t = now();
    if (this.#current && t < this.renewAt(this.#current)) return;
    if (t < this.#nextAttemptAt) return;
    await this.#obtain(source);
  }

  status(): CertificateStatus {
    const c = this.current;
    const now = this.#o.now();
    return {
      mode: this.#o.source.mode,
      ...(this.identifier ? { identifier: this.identifier } : {}),
      fingerprint: c.fingerprint,
      notAfter: new Date(c.notAfter).toISOString(),
      expiresInSeconds: Math.round((c.notAfter - now) / 1000),
      renewAt: new Date(this.renewAt(c)).toISOString(),
      renewals: this.#renewals,
      failures: this.#failures,
      consecutiveFailures: this.#consecutive,
      ...(this.#consecutive > 0 ? { nextAttemptAt: new Date(this.#nextAttemptAt).toISOString() } : {}),
      ...(this.#lastError ? { lastError: this.#lastError } : {}),
    };
  }

  #describe(c: ServedCertificate): Record<string, unknown> {
    return {
      mode: this.#o.source.mode,
      identifier: this.identifier,
      fingerprint: c.fingerprint,
      notAfter: new Date(c.notAfter).toISOString(),
      renewAt: new Date(this.renewAt(c)).toISOString(),
    };
  }

  #readFiles(source: { keyFile: string; certFile: string }): ServedCertificate {
    return validateCertificate(
      readFileSync(source.keyFile, "utf8"),
      readFileSync(source.certFile, "utf8"),
      undefined,
      this.#o.now(),
    );
  }

  /** The stored certificate when it is usable; a broken, expired or foreign one is logged and replaced. */
  #loadStored(store: CertificateStore): ServedCertificate | undefined {
    try {
      const stored = store.read();
      if (!stored) return undefined;
      return validateCertificate(stored.key, stored.cert, this.identifier, this.#o.now());
    } catch (err) {
      this.#o.log.warn("stored certificate unusable: obtaining a new one", { err });
      return undefined;
    }
  }

  async #obtain(source: Extract<CertificateSource, { mode: "acme" }>): Promise<void> {
    const { log } = this.#o;
    log.info("requesting certificate", { identifier: source.acme.identifier, ca: source.acme.directoryUrl });
    try {
      const accountKey = source.store.accountKey(newKey);
      const issued = await issueCertificate(source.acme, accountKey, {
        set: (token, keyAuthorization) => this.#challenges.set(token, keyAuthorization),
        delete: (token) => this.#challenges.delete(token),
      });
      // What the CA sent is checked like a file on disk, and its chain too, before anything serves it.
      const cert = validateCertificate(issued.key, issued.cert, source.acme.identifier, this.#o.now());
      verifyIssuedChain(issued.cert, this.#o.now());
      source.store.write(cert.key, cert.cert);
      const first = this.#current === undefined;
      this.#install(cert, first);
    } catch (err) {
      this.#fail(err);
    }
  }

  #install(cert: ServedCertificate, first = false): void {
    this.#current = cert;
    this.#consecutive = 0;
    this.#nextAttemptAt = 0;
    this.#lastError = undefined;
    if (first) return;
    this.#renewals += 1;
    this.#o.metrics.tlsRenewals.inc();
    this.#o.log.info("certificate renewed", this.#describe(cert));
    this.#o.onRenewed(cert);
  }

  #backoffMs(): number {
    return Math.min(this.#o.retryMaxMs, this.#o.retryMinMs * 2 ** Math.max(0, this.#consecutive - 1));
  }

  #fail(err: unknown): void {
    this.#failures += 1;
    this.#consecutive += 1;
    this.#nextAttemptAt = this.#o.now() + this.#backoffMs();
    this.#lastError = err instanceof Error ? err.message.slice(0, 500) : String(err).slice(0, 500);
    this.#o.metrics.tlsFailures.inc();
    this.#o.log.warn("certificate renewal failed: keeping the current certificate", {
      err,
      consecutiveFailures: this.#consecutive,
      retryInMs: this.#nextAttemptAt - this.#o.now(),
      expiresAt: this.#current ? new Date(this.#current.notAfter).toISOString() : undefined,
    });
  }
}
