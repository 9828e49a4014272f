/**
 * One call to an external provider: the POST through the egress guard, the answer's SSE events,
 * and every way it can fail turned into a ProviderError. What reaches an error message is ours
 * (the provider's name and origin, a status, a socket error code) plus the provider's own error
 * text, cleaned and cut short, with the API key cut out of it: never a header, the key, or the
 * text of a low-level error (undici names an invalid header's value in its message).
 */
import { EgressDeniedError, type Egress } from "../../egress.js";
import { ProviderError, type ChatOptions, type ProviderId } from "./provider.js";
import { sseEvents, SseStreamError, type SseEvent } from "./sse.js";

export interface ExternalProviderOptions {
  readonly egress: Egress;
  /** The tenant's API key for this provider (a tenant secret). */
  readonly apiKey: string;
  /** The API's origin, e.g. https://api.openai.com; a path prefix is kept (a gateway in front of it). */
  readonly baseUrl?: string;
}

export interface ExternalRequest {
  readonly provider: ProviderId;
  /** The provider's name as an operator knows it, in messages ("OpenAI"). */
  readonly label: string;
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly apiKey: string;
  /** The provider's own message in an error body it sent (HTTP error or error event), when there is one. */
  readonly errorText: (body: unknown) => string | null;
}

/** An error body is read up to this many bytes: enough for any provider's message, never a flood. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;
const MAX_MESSAGE_CHARS = 300;

/** The URL of an API path under a base URL, keeping the base's own path (a gateway's prefix). */
export function apiUrl(baseUrl: string, path: string): URL {
  return new URL(`${baseUrl.replace(/\/+$/, "")}${path}`);
}

/** A failed call, with the provider's text made safe to show: one line, short, without the key. */
export function failed(request: ExternalRequest, detail: string): ProviderError {
  return new ProviderError("failed", request.provider, `${request.label}: ${clean(detail, request.apiKey)}`);
}

/** An event's data as JSON; text that is not JSON parses to undefined, which no schema accepts. */
export function parseJson(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return undefined;
  }
}

/** Posts the request and yields the answer's events; throws ProviderError, or the caller's abort reason. */
export async function* postForEvents(
  egress: Egress,
  request: ExternalRequest,
  options: ChatOptions,
): AsyncGenerator<SseEvent> {
  // A key that is not a valid header value would make the HTTP client throw an error quoting it.
  if (!/^[\x21-\x7e]+$/.test(request.apiKey)) throw failed(request, "the API key is empty or not a valid header value");
  options.sent(request.body);
  let response: Response;
  try {
    response = await egress.fetch(`ai.${request.provider}`, request.url, {
      method: "POST",
      headers: request.headers,
      body: request.body,
      signal: options.signal,
    });
  } catch (error) {
    throw beforeAnswer(error, request, options.signal);
  }
  if (!response.ok) throw await httpFailure(response, request, options.signal);
  if (response.body === null) throw failed(request, `answered ${response.status} without a body`);
  try {
    yield* sseEvents(response.body);
  } catch (error) {
    throw duringAnswer(error, request, options.signal);
  }
}

/**
 * What to throw when the caller's signal ended the call, which decides before the error that
 * surfaced: our timeout becomes a timeout, any other abort is the caller's and its reason is
 * rethrown as is. Null while the signal has not fired.
 */
function abortOutcome(signal: AbortSignal, request: ExternalRequest): unknown {
  if (!signal.aborted) return null;
  const reason: unknown = signal.reason;
  if (reason instanceof DOMException && reason.name === "TimeoutError") {
    return new ProviderError(
      "timeout",
      request.provider,
      `${request.label}: no answer from ${request.url.origin} in time`,
    );
  }
  return reason;
}

function beforeAnswer(error: unknown, request: ExternalRequest, signal: AbortSignal): unknown {
  const abort = abortOutcome(signal, request);
  if (abort !== null) return abort;
  if (error instanceof EgressDeniedError) return new ProviderError("refused", request.provider, error.message);
  const code = socketCode(error);
  if (code !== null) {
    return new ProviderError("unreachable", request.provider, `cannot reach ${request.url.origin} (${code})`);
  }
  return failed(request, `the request to ${request.url.origin} could not be sent`);
}

function duringAnswer(error: unknown, request: ExternalRequest, signal: AbortSignal): unknown {
  const abort = abortOutcome(signal, request);
  if (abort !== null) return abort;
  if (error instanceof SseStreamError) return failed(request, error.message);
  return failed(request, `the answer from ${request.url.origin} broke off`);
}

/** The system error code under a failed request (ECONNREFUSED, ENOTFOUND, a TLS verification code), if there is one. */
function socketCode(error: unknown): string | null {
  if (!(error instanceof TypeError)) return null;
  const cause: unknown = error.cause;
  if (typeof cause !== "object" || cause === null || !("code" in cause)) return null;
  return typeof cause.code === "string" && /^[A-Z0-9_]{1,64}$/.test(cause.code) ? cause.code : null;
}

async function httpFailure(response: Response, request: ExternalRequest, signal: AbortSignal): Promise<unknown> {
  let text: string;
  try {
    text = await readCapped(response);
  } catch (error) {
    return duringAnswer(error, request, signal);
  }
  const message = providerText(text, request);
  return failed(request, `answered ${response.status}${message === null ? "" : `: ${message}`}`);
}

function providerText(text: string, request: ExternalRequest): string | null {
  return request.errorText(parseJson(text));
}

async function readCapped(response: Response): Promise<string> {
  if (response.body === null) return "";
  const reader = response.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < MAX_ERROR_BODY_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      size += value.byteLength;
    }
  } finally {
    await reader.cancel();
  }
  return Buffer.concat(parts).subarray(0, MAX_ERROR_BODY_BYTES).toString("utf8");
}

/** One printable line, cut short, with every occurrence of the key replaced. */
function clean(text: string, apiKey: string): string {
  const redacted = apiKey.length > 0 ? text.split(apiKey).join("[redacted]") : text;
  // eslint-disable-next-line no-control-regex -- control characters are what is removed
  const line = redacted.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, " ").trim();
  return line.length > MAX_MESSAGE_CHARS ? `${line.slice(0, MAX_MESSAGE_CHARS)}…` : line;
}
