import { randomBytes, webcrypto } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY = 86_400_000;

/** A certificate authority made here: its key pair and certificate. */
export interface TestCa {
  keys: CryptoKeyPair;
  cert: x509.X509Certificate;
}

const serial = () =>
  randomBytes(8)
    .toString("hex")
    .replace(/^[89a-f]/, "1");

/** A CA certificate named `name`: self-signed (a root), or issued by `issuer` (an intermediate). */
export async function makeCa(
  name: string,
  issuer?: TestCa,
  validity = { from: -DAY, to: 30 * DAY },
): Promise<TestCa> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as CryptoKeyPair;
  const now = Date.now();
  const extensions = [
    new x509.BasicConstraintsExtension(true, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  const common = {
    serialNumber: serial(),
    notBefore: new Date(now + validity.from),
    notAfter: new Date(now + validity.to),
    signingAlgorithm: ALG,
  };
  const cert = issuer
    ? await x509.X509CertificateGenerator.create({
        ...common,
        subject: `CN=${name}`,
        issuer: issuer.cert.subject,
        publicKey: keys.publicKey,
        signingKey: issuer.keys.privateKey,
        extensions: [...extensions, await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey)],
      })
    : await x509.X509CertificateGenerator.createSelfSigned({
        ...common,
        name: `CN=${name}`,
        keys,
        extensions,
      });
  return { keys, cert };
}

/** A server certificate (PEM) for `ip` and `publicKey`, issued by `issuer`, valid from..to (ms since the epoch). */
export async function issueLeaf(
  publicKey: x509.PublicKey | CryptoKey,
  ip: string,
  issuer: TestCa,
  validity: { notBefore: number; notAfter: number },
): Promise<string> {
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: "CN=fake-acme leaf",
    issuer: issuer.cert.subject,
    notBefore: new Date(validity.notBefore),
    notAfter: new Date(validity.notAfter),
    signingAlgorithm: ALG,
    publicKey,
    signingKey: issuer.keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: "ip", value: ip }]),
      await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey),
    ],
  });
  return `${cert.toString("pem")}\n`;
}

/** A CA's certificate as a PEM block, newline-terminated so blocks concatenate into a chain. */
export const caPem = (ca: TestCa) => `${ca.cert.toString("pem")}\n`;

/** A fresh P-256 public key nobody in the test holds the private half of (a leaf "for another key"). */
export async function foreignPublicKey(): Promise<CryptoKey> {
  return ((await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as CryptoKeyPair).publicKey;
}

/** How the fake CA's answers go out. */
export type FakeAcmeDelivery =
  | { kind: "whole" }
  /** One byte every `everyMs` (a CA, or something in front of it, trickling). */
  | { kind: "trickle"; everyMs: number }
  /** Valid JSON preceded by `bytes` of whitespace: a well-formed answer that is just too large. */
  | { kind: "huge"; bytes: number };

export interface FakeAcme {
  directoryUrl: string;
  delivery: FakeAcmeDelivery;
  /** The chain (PEM) a finalized order gets for the CSR's public key; replace to make the CA lie. */
  issue: (csrPublicKey: x509.PublicKey) => Promise<string>;
  /** Requests answered, by path. */
  requests: string[];
  close(): Promise<void>;
}

function b64json(s: string): unknown {
  return s === "" ? undefined : JSON.parse(Buffer.from(s, "base64url").toString("utf8"));
}

/**
 * An ACME server on 127.0.0.1 (RFC 8555, the parts acme-client uses) that
 * validates no signature and no challenge: its authorizations are valid at
 * once, and its certificate is whatever `issue` returns. Real HTTP, real
 * sockets, so a relay's ACME client meets it exactly as it would meet a CA that
 * is slow, oversized or lying. By default `issue` is honest: a leaf for the
 * CSR's key and `ip`, issued by an intermediate that is sent along.
 */
export async function startFakeAcme(ip: string, intermediate: TestCa): Promise<FakeAcme> {
  let base = "";
  const timers = new Set<NodeJS.Timeout>();
  const chains = new Map<string, string>();
  const fake: FakeAcme = {
    directoryUrl: "",
    delivery: { kind: "whole" },
    issue: async (publicKey) =>
      (await issueLeaf(publicKey, ip, intermediate, {
        notBefore: Date.now() - 60_000,
        notAfter: Date.now() + 10 * DAY,
      })) + caPem(intermediate),
    requests: [],
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearInterval(t);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };

  const send = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
    const d = fake.delivery;
    const bytes = Buffer.from(d.kind === "huge" ? " ".repeat(d.bytes) + body : body);
    res.writeHead(status, {
      "content-type": "application/json",
      "replay-nonce": randomBytes(16).toString("base64url"),
      "content-length": String(bytes.length),
      ...headers,
    });
    if (d.kind !== "trickle") return void res.end(bytes);
    let i = 0;
    const t = setInterval(() => {
      if (res.destroyed || i >= bytes.length) {
        clearInterval(t);
        timers.delete(t);
        if (!res.destroyed) res.end();
        return;
      }
      res.write(bytes.subarray(i, i + 1));
      i += 1;
    }, d.everyMs);
    timers.add(t);
  };

  const order = (id: string, status: string) => ({
    status,
    expires: new Date(Date.now() + DAY).toISOString(),
    identifiers: [{ type: "ip", value: ip }],
    authorizations: [`${base}/authz/${id}`],
    finalize: `${base}/finalize/${id}`,
    ...(chains.has(id) ? { certificate: `${base}/cert/${id}` } : {}),
  });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? "/", base).pathname;
    fake.requests.push(path);
    let raw = "";
    for await (const chunk of req) raw += chunk;
    const jws = raw ? (JSON.parse(raw) as { payload: string }) : undefined;
    const payload = jws ? (b64json(jws.payload) as Record<string, unknown> | undefined) : undefined;
    const [, kind, id = "1"] = path.split("/");
    switch (kind) {
      case "directory":
        return send(
          res,
          200,
          JSON.stringify({
            newNonce: `${base}/nonce`,
            newAccount: `${base}/account`,
            newOrder: `${base}/order`,
            revokeCert: `${base}/revoke`,
            keyChange: `${base}/key-change`,
          }),
        );
      case "nonce":
        return send(res, 200, "");
      case "account":
        return send(res, 201, JSON.stringify({ status: "valid" }), { location: `${base}/account/1` });
      case "order": {
        if (path === "/order") {
          const newId = randomBytes(4).toString("hex");
          return send(res, 201, JSON.stringify(order(newId, "ready")), {
            location: `${base}/order/${newId}`,
          });
        }
        return send(res, 200, JSON.stringify(order(id, chains.has(id) ? "valid" : "ready")));
      }
      case "authz":
        return send(
          res,
          200,
          JSON.stringify({ status: "valid", identifier: { type: "ip", value: ip }, challenges: [] }),
        );
      case "finalize": {
        const csr = new x509.Pkcs10CertificateRequest(Buffer.from(String(payload?.csr), "base64url"));
        chains.set(id, await fake.issue(csr.publicKey));
        return send(res, 200, JSON.stringify(order(id, "valid")));
      }
      case "cert": {
        const chain = chains.get(id);
        if (!chain) return send(res, 404, JSON.stringify({ type: "urn:ietf:params:acme:error:malformed" }));
        return send(res, 200, chain, { "content-type": "application/pem-certificate-chain" });
      }
      default:
        return send(res, 404, JSON.stringify({ type: "urn:ietf:params:acme:error:malformed" }));
    }
  };
  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.directoryUrl = `${base}/directory`;
  return fake;
}
