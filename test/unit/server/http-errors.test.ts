/** The parser errors that test/integration/transport.test.ts cannot provoke cheaply: a request timeout, a reset. */
import { describe, expect, it } from "vitest";
import { parserProblem } from "../../../src/server/transport/http-errors.js";

function parserError(code: string, reason?: string): Error & { code: string; reason?: string } {
  return Object.assign(new Error(`Parse Error: ${reason ?? code}`), {
    code,
    ...(reason === undefined ? {} : { reason }),
  });
}

describe("parserProblem", () => {
  it("answers a request that did not arrive in time with 408", () => {
    expect(parserProblem(parserError("ERR_HTTP_REQUEST_TIMEOUT"))).toMatchObject({
      status: 408,
      kind: "request-timeout",
    });
  });

  it("answers oversized chunk extensions with 413", () => {
    expect(parserProblem(parserError("HPE_CHUNK_EXTENSIONS_OVERFLOW"))).toMatchObject({
      status: 413,
      kind: "payload-too-large",
    });
  });

  it("has nobody to answer after a reset or a broken pipe", () => {
    expect(parserProblem(parserError("ECONNRESET"))).toBeNull();
    expect(parserProblem(parserError("EPIPE"))).toBeNull();
  });

  it("quotes llhttp's fixed reason, and nothing that looks like request bytes", () => {
    expect(parserProblem(parserError("HPE_INVALID_METHOD", "Invalid method encountered"))?.detail).toBe(
      "malformed HTTP request: invalid method encountered",
    );
    expect(parserProblem(parserError("HPE_INVALID_METHOD", "<script>\u0000"))?.detail).toBe("malformed HTTP request");
  });
});
