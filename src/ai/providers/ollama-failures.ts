/**
 * What went wrong talking to Ollama, in the four words the routes answer with (ProviderError).
 * Ollama's own error text is untrusted (it is whatever answers at the configured address): it is
 * passed on as one bounded line without control characters, never a stack.
 */
import { EgressDeniedError } from "../../egress.js";
import { ProviderError } from "./provider.js";

const MAX_UPSTREAM_TEXT = 300;

/** The configured URL as messages name it: without any user:password part. */
export function shownUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = "";
    parsed.password = "";
    return parsed.href.replace(/\/$/u, "");
  } catch {
    return url;
  }
}

function upstreamText(text: string): string {
  const line = text.replace(/[\p{Cc}\s]+/gu, " ").trim();
  return line.length > MAX_UPSTREAM_TEXT ? `${line.slice(0, MAX_UPSTREAM_TEXT)}…` : line;
}

const CONNECT_REASONS: Readonly<Record<string, string>> = {
  ECONNREFUSED: "connection refused",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host not found",
  EHOSTUNREACH: "no route to host",
  ENETUNREACH: "no route to host",
  ETIMEDOUT: "connection timed out",
  UND_ERR_CONNECT_TIMEOUT: "connection timed out",
};

function connectReason(error: TypeError): string {
  const cause = error.cause as { code?: unknown; errors?: { code?: unknown }[] } | undefined;
  const codes = [cause?.code, ...(cause?.errors ?? []).map((e) => e.code)];
  const known = codes.find((code): code is string => typeof code === "string" && code in CONNECT_REASONS);
  return known === undefined ? "" : ` (${CONNECT_REASONS[known]})`;
}

/**
 * A failure of the request itself, before Ollama answered anything: refused by the egress policy,
 * or nothing reachable there. Anything else (an abort) is left to `ollamaFailure`.
 */
export function connectFailure(error: unknown, url: string, signal: AbortSignal): unknown {
  if (signal.aborted) return error;
  if (error instanceof EgressDeniedError) {
    return new ProviderError("refused", "ollama", `Ollama at ${shownUrl(url)} may not be called: ${error.message}`);
  }
  if (error instanceof TypeError) {
    const where = shownUrl(url);
    return new ProviderError(
      "unreachable",
      "ollama",
      `Ollama is not reachable at ${where}${connectReason(error)}: is it running?`,
    );
  }
  return error;
}

/** The `ollama` client's HTTP error; its class is not exported, so it is known by its fields. */
function responseError(error: unknown): { status: number; text: string } | null {
  if (!(error instanceof Error) || error.name !== "ResponseError") return null;
  const { status_code: status, error: text } = error as Error & { status_code?: unknown; error?: unknown };
  if (typeof status !== "number") return null;
  return { status, text: typeof text === "string" ? text : error.message };
}

function isTimeout(reason: unknown): boolean {
  return typeof reason === "object" && reason !== null && (reason as { name?: unknown }).name === "TimeoutError";
}

/**
 * What a call to Ollama throws instead of `error`. When our signal was aborted, the caller decided:
 * a timeout becomes ProviderError "timeout"; any other reason (the client that asked went away)
 * is rethrown as it is, so the caller recognises its own abort.
 */
export function ollamaFailure(error: unknown, url: string, signal: AbortSignal): unknown {
  if (signal.aborted) {
    return isTimeout(signal.reason)
      ? new ProviderError("timeout", "ollama", `Ollama at ${shownUrl(url)} did not answer in time`)
      : signal.reason;
  }
  if (error instanceof ProviderError) return error;
  const where = shownUrl(url);
  const failed = (message: string): ProviderError => new ProviderError("failed", "ollama", message);
  const http = responseError(error);
  if (http !== null) return failed(`Ollama at ${where} answered ${http.status}: ${upstreamText(http.text)}`);
  // The request went out and an answer began: a network error now means the connection broke off.
  if (error instanceof TypeError)
    return failed(`Ollama at ${where} closed the connection before the answer was complete`);
  if (error instanceof SyntaxError) return failed(`Ollama at ${where} sent an answer that is not JSON`);
  // An {"error"} line mid-stream, or a stream that ended without its done line.
  if (error instanceof Error) return failed(`Ollama at ${where} failed: ${upstreamText(error.message)}`);
  return failed(`Ollama at ${where} failed`);
}
