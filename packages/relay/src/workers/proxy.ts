import {
  Agent,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  request,
  type ServerResponse,
} from "node:http";
import { pipeline } from "node:stream/promises";
import { SrpError } from "@streamrp2p/protocol";
import { type Handler, sendError } from "@streamrp2p/service";

/** Headers about one connection, not the request: never passed on (RFC 9110 7.6.1). */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
]);

function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (!HOP_BY_HOP.has(name)) out[name] = value;
  return out;
}

/**
 * Passes a request to the relay's primary process (its internal address) and
 * its answer back unchanged: status, headers and body stream through, so a
 * viewer or origin sees exactly what a single-process relay would answer.
 * The primary applies every limit (body sizes, timeouts) as it always does.
 */
/**
 * End-to-end headers, with the body framed for the primary as the client framed it: a
 * chunked body goes on chunked. Without that, a body on a request the primary expects none
 * for (a GET) would reach it unframed, and it would read the body as the next request.
 */
function framed(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = endToEnd(headers);
  // An HTTP/2 request (HTTPS workers): its pseudo-headers are no HTTP/1.1 header names; the
  // authority is the Host (RFC 9113 8.3.1).
  for (const name of Object.keys(out)) if (name.startsWith(":")) delete out[name];
  const authority = headers[":authority"];
  if (out.host === undefined && typeof authority === "string") out.host = authority;
  if (headers["transfer-encoding"] !== undefined) {
    delete out["content-length"];
    out["transfer-encoding"] = "chunked";
  }
  return out;
}

export function proxyToPrimary(primaryUrl: string): Handler {
  const target = new URL(primaryUrl);
  // Bounded: beyond this, requests wait for a free connection instead of opening more (the primary caps them too).
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  return (req: IncomingMessage, res: ServerResponse, _params, url: URL) =>
    new Promise<void>((resolve) => {
      const upstream = request(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: `${url.pathname}${url.search}`,
          headers: framed(req.headers),
          agent,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, endToEnd(answer.headers));
          pipeline(answer, res)
            .catch(() => {}) // the viewer went away or the primary cut the body: the connection is cut
            .finally(resolve);
        },
      );
      upstream.on("error", () => {
        if (!res.headersSent)
          sendError(res, new SrpError("UNAVAILABLE", "this relay's primary process is not answering"));
        else res.destroy();
        resolve();
      });
      // The head goes now, not with the first body byte: the primary may answer before any body
      // (a declared size over its limit: 413) and a client may wait for that answer.
      upstream.flushHeaders();
      // A client that goes away mid-body takes the upstream request with it (the error above).
      pipeline(req, upstream).catch(() => {});
    });
}
