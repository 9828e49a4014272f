/**
 * RFC 8785 canonical JSON (the `canonicalize` package, as src/audit/seal.ts uses it): one byte
 * string per value, so a signature over it can be re-checked by anyone who re-creates the value.
 * No native dependencies: the vendor's tool (licensing/) imports this too.
 */
import canonicalizeModule from "canonicalize";

// canonicalize is CommonJS (module.exports = function); its typings declare an ES default export
// instead, so TypeScript sees the module object. At run time the default import is the function.
const canonicalize = canonicalizeModule as unknown as (value: unknown) => string | undefined;

export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError("value is not serialisable as JSON");
  return text;
}

/** Domain separation: what a signature is for comes first, so one key's signatures never cross purposes. */
export function signingMessage(domain: string, value: unknown): Buffer {
  return Buffer.from(`${domain}\n${canonicalJson(value)}`, "utf8");
}
