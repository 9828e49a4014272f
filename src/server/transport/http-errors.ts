/**
 * What the HTTP layer refuses before the app sees a request, each answered as problem+json
 * through a TransportResponder (Node's defaults are a bare status line, or nothing):
 * - the parser's errors ('clientError': NUL or spaces in the target, an oversized request line or
 *   header block, a bad method, Content-Length or chunk framing, a request that never completes);
 * - targets and Host headers Node accepts but the adapter cannot make a URL of (its error hook);
 * - an HTTP/1.1 request without Host, an Expect other than 100-continue, CONNECT.
 */
import { maxHeaderSize, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import type { Server as HttpsServer } from "node:https";
import type { Duplex } from "node:stream";
import { RequestError } from "@hono/node-server";
import { closeGracefully, isClosing, isSending } from "./connection.js";
import type { TransportProblem, TransportResponder } from "./problem-response.js";

type Socket = IncomingMessage["socket"];

interface ParserError extends Error {
  readonly code?: string;
  /** llhttp's description of the error: a fixed text, never request bytes. */
  readonly reason?: string;
}

/** The answer to a parser error, or null when there is nobody left to answer (reset, closed socket). */
export function parserProblem(error: ParserError): TransportProblem | null {
  const reason = error.code ?? "unknown";
  switch (error.code) {
    case "HPE_HEADER_OVERFLOW":
      return {
        status: 431,
        kind: "headers-too-large",
        detail: `the request line and header fields exceed ${maxHeaderSize} bytes`,
        reason,
      };
    case "HPE_CHUNK_EXTENSIONS_OVERFLOW":
      return { status: 413, kind: "payload-too-large", detail: "chunk extensions too large", reason };
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return { status: 408, kind: "request-timeout", detail: "the request did not arrive in time", reason };
  }
  if (!reason.startsWith("HPE_")) return null;
  const what =
    error.reason !== undefined && /^[A-Za-z0-9 ,.'()-]{1,80}$/.test(error.reason)
      ? `: ${error.reason.toLowerCase()}`
      : "";
  return { status: 400, kind: "bad-request", detail: `malformed HTTP request${what}`, reason };
}

/** For the adapter's error hook: a RequestError is the client's fault; anything else is ours. */
export function adapterProblem(error: unknown): TransportProblem {
  if (error instanceof RequestError)
    return {
      status: 400,
      kind: "bad-request",
      detail: "the request target or Host header is not a valid URL",
      reason: "invalid-url",
    };
  return {
    status: 500,
    kind: "internal-error",
    detail: "the request failed; quote the request id to your administrator",
    reason: "adapter-error",
  };
}

function onClientError(responder: TransportResponder): (error: ParserError, socket: Duplex) => void {
  return (error, socket) => {
    const net = socket as Socket;
    // The parser reports its error again for every chunk that still arrives: we answered already,
    // and the graceful close reads the rest away (destroying now would reset the connection).
    if (isClosing(net)) return;
    const problem = parserProblem(error);
    if (problem === null || !socket.writable || isSending(net)) {
      socket.destroy();
      return;
    }
    socket.write(responder.raw(problem));
    closeGracefully(net);
  };
}

/** Requests refused before the adapter: requests pipelined behind a `Connection: close`, no Host, CONNECT. */
export function guardRequests(
  responder: TransportResponder,
  next: (req: IncomingMessage, res: ServerResponse) => unknown,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (isClosing(req.socket)) {
      // RFC 9112, 9.6: after a response that said close, further requests are not processed.
      req.resume();
      return;
    }
    if (req.httpVersion === "1.1" && req.headers.host === undefined) {
      responder.send(res, {
        status: 400,
        kind: "bad-request",
        detail: "an HTTP/1.1 request needs a Host header",
        reason: "missing-host",
      });
      return;
    }
    void next(req, res);
  };
}

/** Installs the answers above on a listener (HTTPS or the plain-HTTP redirect). */
export function answerHttpErrors(server: HttpServer | HttpsServer, responder: TransportResponder): void {
  server.on("clientError", onClientError(responder));
  server.on("checkExpectation", (_req: IncomingMessage, res: ServerResponse) => {
    responder.send(res, {
      status: 417,
      kind: "expectation-failed",
      detail: "only Expect: 100-continue is supported",
      reason: "expectation",
    });
  });
  server.on("connect", (_req: IncomingMessage, socket: Duplex) => {
    socket.write(
      responder.raw({ status: 405, kind: "method-not-allowed", detail: "CONNECT is not supported", reason: "connect" }),
    );
    closeGracefully(socket as Socket);
  });
}
