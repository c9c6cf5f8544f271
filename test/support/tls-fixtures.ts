import { execFileSync } from "node:child_process";
import { request } from "node:https";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";

/** A self-signed certificate for 127.0.0.1 (key, cert paths); `newkey` as openssl's -newkey. */
export function selfSigned(
  dir: string,
  name: string,
  newkey: string[] = ["ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
) {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.pem`);
  execFileSync(
    "openssl",
    [
      ...["req", "-x509", "-newkey", ...newkey, "-nodes"],
      ...["-keyout", key, "-out", cert, "-days", "2", "-subj", `/CN=${name}`],
      ...["-addext", "subjectAltName=IP:127.0.0.1"],
    ],
    { stdio: "pipe" },
  );
  return { key, cert };
}

/** GET /healthz over HTTPS trusting `ca`: the served certificate's SHA-256 fingerprint and the body. */
export function healthz(url: string, ca: string[]): Promise<{ fingerprint: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/healthz`, { ca, agent: false, timeout: 5_000 }, (res) => {
      const fingerprint = (res.socket as TLSSocket)
        .getPeerCertificate()
        .fingerprint256.replaceAll(":", "")
        .toLowerCase();
      let body = "";
      res.on("data", (d: Buffer) => {
        body += d.toString();
      });
      res.on("end", () => resolve({ fingerprint, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}
