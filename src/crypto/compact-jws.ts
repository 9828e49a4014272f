/**
 * The one JWS shape access tokens have (src/crypto/access-token-keys.ts), read strictly before any
 * key is touched: three base64url segments in canonical form, a header that is exactly
 * {alg: "HS256", typ: "at+jwt", kid} and nothing else. Whatever the product never issues (alg
 * none or any other algorithm, crit, jwk, jku, x5u, b64, extra fields, padding, stray bits,
 * whitespace, an oversized token) is refused here, so no later step has to reason about it.
 */
import { CryptoParamError, JwsError } from "./errors.js";

export const JWS_ALGORITHM = "HS256";
export const ACCESS_TOKEN_TYPE = "at+jwt";
/**
 * A real token is about 500 characters (header 80, claims up to ~350 with every scope, signature
 * 43); 4 KiB leaves room for growth and stops a megabyte of base64 from being decoded and parsed.
 */
export const MAX_TOKEN_CHARS = 4096;
/** A kid is 12 base64url characters (randomBytes(9), src/auth/jwt.ts); 64 leaves room, nothing more. */
const KID = /^[A-Za-z0-9_-]{1,64}$/;
const SEGMENT = /^[A-Za-z0-9_-]+$/;
const HEADER_FIELDS = ["alg", "kid", "typ"] as const;
const HMAC_SHA256_BYTES = 32;

export interface ParsedJws {
  readonly kid: string;
  /** header.payload exactly as received: the bytes the signature covers. */
  readonly signingInput: string;
  readonly payloadSegment: string;
  readonly signature: Buffer;
}

/** Splits and checks a compact JWS; the payload is left unparsed until its signature holds. */
export function parseJws(token: string): ParsedJws {
  if (token.length > MAX_TOKEN_CHARS) throw new JwsError("token too long");
  const segments = token.split(".");
  if (segments.length !== 3) throw new JwsError("not three segments");
  const [headerSegment, payloadSegment, signatureSegment] = segments as [string, string, string];
  const header = decodeJsonObject(headerSegment, "header");
  const signature = decodeBase64Url(signatureSegment, "signature");
  if (signature.length !== HMAC_SHA256_BYTES) throw new JwsError("signature of the wrong length");
  return {
    kid: checkHeader(header),
    signingInput: `${headerSegment}.${payloadSegment}`,
    payloadSegment,
    signature,
  };
}

/** The header and payload segments of a token with header {alg: HS256, typ: at+jwt, kid} and these claims. */
export function signingInputOf(kid: string, claims: Readonly<Record<string, unknown>>): string {
  if (!KID.test(kid)) throw new CryptoParamError("malformed kid");
  const header = { alg: JWS_ALGORITHM, typ: ACCESS_TOKEN_TYPE, kid };
  return `${encodeJson(header)}.${encodeJson(claims)}`;
}

/** The payload of a token whose signature was verified: a JSON object, or a JwsError. */
export function decodePayload(payloadSegment: string): Record<string, unknown> {
  return decodeJsonObject(payloadSegment, "payload");
}

function checkHeader(header: Record<string, unknown>): string {
  const fields = Object.keys(header).sort();
  if (fields.length !== HEADER_FIELDS.length || fields.some((name, i) => name !== HEADER_FIELDS[i]))
    throw new JwsError("header fields other than alg, typ and kid");
  if (header.alg !== JWS_ALGORITHM) throw new JwsError("algorithm not allowed");
  if (header.typ !== ACCESS_TOKEN_TYPE) throw new JwsError("unexpected typ");
  if (typeof header.kid !== "string" || !KID.test(header.kid)) throw new JwsError("malformed kid");
  return header.kid;
}

function decodeJsonObject(segment: string, part: string): Record<string, unknown> {
  const text = decodeBase64Url(segment, part).toString("utf8");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new JwsError(`${part} is not JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new JwsError(`${part} is not a JSON object`);
  return value as Record<string, unknown>;
}

/**
 * Unpadded base64url in its one canonical spelling: Buffer.from is lenient (skips unknown
 * characters, ignores stray bits), and a lenient decoder accepts several spellings of one token.
 */
function decodeBase64Url(segment: string, part: string): Buffer {
  if (!SEGMENT.test(segment) || segment.length % 4 === 1) throw new JwsError(`${part} is not base64url`);
  const bytes = Buffer.from(segment, "base64url");
  if (bytes.toString("base64url") !== segment) throw new JwsError(`${part} is not canonical base64url`);
  return bytes;
}

function encodeJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value), "utf8").toString("base64url");
}
