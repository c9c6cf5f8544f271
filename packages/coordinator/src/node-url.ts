import { isIP } from "node:net";
import { SrpError } from "@streamrp2p/protocol";
import { isPublicAddress } from "@streamrp2p/service";

/** Which node URLs the coordinator accepts (it and the origins fetch them). */
export type NodeUrlPolicy = "auto" | "public" | "any";

/** Checks a configured policy; throws VALIDATION_FAILED for anything else. */
export function parseNodeUrlPolicy(value: string): NodeUrlPolicy {
  if (value === "auto" || value === "public" || value === "any") return value;
  throw new SrpError("VALIDATION_FAILED", `nodeUrls must be auto, public or any, not ${value}`);
}

/** A coordinator listening on loopback can only have local nodes; anywhere else, nodes must be public. */
export function effectivePolicy(policy: NodeUrlPolicy, listenHost: string): "public" | "any" {
  if (policy !== "auto") return policy;
  return listenHost === "127.0.0.1" || listenHost === "::1" || listenHost === "localhost" ? "any" : "public";
}

/**
 * Rule: under "public", a node URL must name a publicly routable host, so that
 * the coordinator's prober and the origins, which fetch node URLs, cannot be
 * pointed at internal services (SSRF: cloud metadata, databases, admin pages).
 * Host names are judged by name here (localhost and friends refused); what a
 * name resolves to is checked again at every connection (guardedFetch), so a
 * name that resolves, or later rebinds, to an internal address reaches
 * nothing. Throws VALIDATION_FAILED.
 */
export function checkNodeUrl(raw: string, policy: "public" | "any"): void {
  const url = new URL(raw);
  if (url.username || url.password)
    throw new SrpError("VALIDATION_FAILED", "node URL must not carry credentials");
  // Scheme, host and port only: paths are appended to it, and a path, query or fragment of
  // its own would aim every prober, origin, relay and viewer at some other URL (reflected load).
  if (url.pathname !== "/" || url.search !== "" || url.hash !== "" || /[?#]/.test(raw))
    throw new SrpError(
      "VALIDATION_FAILED",
      "node URL must be scheme://host[:port] with no path, query or fragment",
    );
  // Stored and signed into probe tasks as written: it must be the URL's canonical origin, or a
  // string the URL parser cleans up (spaces, tabs, backslashes, case) would pass here and be
  // refused by every relay asked to fetch it (blaming the relay).
  if (raw.replace(/\/$/, "") !== url.origin)
    throw new SrpError("VALIDATION_FAILED", `node URL must be written in canonical form: ${url.origin}`);
  if (policy === "any") return;
  // One trailing dot names the same host ("localhost." is localhost).
  const host = url.hostname
    .replace(/^\[|\]$/g, "")
    .replace(/\.$/, "")
    .toLowerCase();
  const family = isIP(host);
  if (family === 0) {
    if (
      host === "localhost" ||
      host.endsWith(".localhost") ||
      host.endsWith(".local") ||
      !host.includes(".")
    ) {
      throw new SrpError("VALIDATION_FAILED", `node URL host ${host} is not a public name`);
    }
    return;
  }
  if (!isPublicAddress(host))
    throw new SrpError("VALIDATION_FAILED", `node URL host ${host} is not a public address`);
}
