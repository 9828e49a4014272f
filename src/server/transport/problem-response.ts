/**
 * Problem responses written outside the Hono app: for requests the HTTP parser refuses, request
 * targets or Host headers the adapter cannot turn into a URL, a missing Host header, an
 * unsupported Expect or CONNECT. Same body as the app's (problemBody: shape and `type` URNs), a
 * fresh request id in the body and in X-Request-Id, the app's security headers, and
 * `Connection: close`: after such a request the connection's framing is not to be trusted.
 */
import { randomUUID } from "node:crypto";
import { STATUS_CODES, type ServerResponse } from "node:http";
import type { Logger } from "../../log.js";
import { PROBLEM_CONTENT_TYPE, problemBody, type ProblemKind } from "../problem.js";

export interface TransportProblem {
  readonly status: number;
  readonly kind: ProblemKind;
  readonly detail: string;
  /** What the log line names as the cause (a parser error code, never request bytes). */
  readonly reason: string;
}

interface Rendered {
  readonly headers: Record<string, string>;
  readonly body: string;
}

export class TransportResponder {
  constructor(
    private readonly securityHeaders: Readonly<Record<string, string>>,
    private readonly log: Logger,
  ) {}

  /** A complete HTTP/1.1 response, for a socket the parser gave up on. */
  raw(problem: TransportProblem): Buffer {
    const { headers, body } = this.render(problem);
    const lines = [
      `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status] ?? ""}`,
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    ];
    return Buffer.from(`${lines.join("\r\n")}\r\n\r\n${body}`, "utf8");
  }

  /** A Response, for the adapter's error hook. */
  response(problem: TransportProblem): Response {
    const { headers, body } = this.render(problem);
    return new Response(body, { status: problem.status, headers });
  }

  /** Through Node's own response object, for requests refused before they reach the adapter. */
  send(res: ServerResponse, problem: TransportProblem): void {
    const { headers, body } = this.render(problem);
    res.writeHead(problem.status, headers);
    res.end(body);
  }

  private render(problem: TransportProblem): Rendered {
    const requestId = randomUUID();
    this.log.info(
      { requestId, status: problem.status, problem: problem.kind, reason: problem.reason },
      "request refused by the HTTP layer",
    );
    const body = JSON.stringify(problemBody(problem.status, problem.kind, problem.detail, { requestId }));
    return {
      body,
      headers: {
        ...this.securityHeaders,
        "Content-Type": PROBLEM_CONTENT_TYPE,
        "Content-Length": String(Buffer.byteLength(body)),
        "X-Request-Id": requestId,
        "Cache-Control": "no-store",
        Connection: "close",
      },
    };
  }
}
