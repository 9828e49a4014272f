import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import {
  MAX_SIGNATURES,
  SignedNoteError,
  formatKeyId,
  formatVerifierKey,
  isValidKeyName,
  keyIdFor,
  newKeyPair,
  noteSigner,
  open,
  parseVerifierKey,
  sign,
  type SignedNoteErrorCode,
} from "../../../src/audit/signed-note.js";
// Only a test builds a signer from seed bytes: src/crypto/index.ts does not offer it to the product.
import { ed25519SignerFromSeed } from "../../../src/crypto/ed25519.js";

/** Vectors copied from golang.org/x/mod/sumdb/note/note_test.go; see the fixture's "source". */
interface GoVectors {
  source: string;
  text: string;
  peter: { name: string; keyId: string; verifierKey: string; signerKey: string; signatureLine: string };
  enoch: { name: string; keyId: string; verifierKey: string; signatureLine: string };
  signedNote: string;
  badVerifierKeys: { wrongLengthKey: string; unknownAlgorithm: string };
}

const go = JSON.parse(
  readFileSync(resolve(process.cwd(), "test/fixtures/signed-note/golang-mod-note.json"), "utf8"),
) as GoVectors;
const { text, peter, enoch } = go;
const peterSig = peter.signatureLine;
const enochSig = enoch.signatureLine;
const peterVerifier = parseVerifierKey(peter.verifierKey);
const enochVerifier = parseVerifierKey(enoch.verifierKey);
/** The seed inside Go's signer key (after "PRIVATE+KEY+name+keyid+" and the 0x01 type byte). */
const peterSeed = new Uint8Array(Buffer.from(peter.signerKey.split("+").slice(4).join("+"), "base64").subarray(1));
const peterSigner = noteSigner(peter.name, ed25519SignerFromSeed(peterSeed));

function errorCode(fn: () => unknown): SignedNoteErrorCode | "no error" | "other error" {
  try {
    fn();
    return "no error";
  } catch (err) {
    return err instanceof SignedNoteError ? err.code : "other error";
  }
}

/** Go's tests index notes by byte; the em dash is 3 bytes in UTF-8, so splice bytes, not chars. */
function spliceBytes(s: string, at: number, insert: string): string {
  const b = Buffer.from(s, "utf8");
  return Buffer.concat([b.subarray(0, at), Buffer.from(insert), b.subarray(at)]).toString("utf8");
}

describe("Go sumdb/note vectors", () => {
  it("fixture names its source", () => {
    expect(go.source).toContain("golang/mod");
    expect(go.signedNote).toBe(`${text}\n${peterSig}`);
  });

  it("parses the PeterNeumann verifier key and re-formats it byte for byte", () => {
    expect(peterVerifier.name).toBe("PeterNeumann");
    expect(formatKeyId(peterVerifier.keyId)).toBe(peter.keyId);
    expect(peterVerifier.publicKey).toHaveLength(32);
    expect(formatVerifierKey(peter.name, peterVerifier.publicKey)).toBe(peter.verifierKey);
    expect(keyIdFor(peter.name, peterVerifier.publicKey)).toBe(0xc74f20a3);
    expect(formatKeyId(enochVerifier.keyId)).toBe(enoch.keyId);
  });

  it("a signer handle on the PeterNeumann seed has Go's key ID and public key", () => {
    expect(peterSigner.name).toBe(peter.name);
    expect(peterSigner.keyId).toBe(0xc74f20a3);
    expect(ed25519SignerFromSeed(peterSeed).publicKey).toEqual(peterVerifier.publicKey);
  });

  it("signs the note exactly as Go does (Ed25519 is deterministic)", () => {
    expect(sign(text, peterSigner)).toBe(go.signedNote);
  });

  it("opens Go's signed note", () => {
    const note = open(go.signedNote, [peterVerifier]);
    expect(note.text).toBe(text);
    expect(note.verifiedBy).toEqual([{ name: "PeterNeumann", keyId: 0xc74f20a3 }]);
    expect(note.unverified).toEqual([]);
    expect(open(Buffer.from(go.signedNote, "utf8"), [peterVerifier]).text).toBe(text);
  });

  it("one known and one unknown signature: verified, the other ignored", () => {
    const note = open(`${text}\n${peterSig}${enochSig}`, [peterVerifier]);
    expect(note.verifiedBy).toEqual([{ name: "PeterNeumann", keyId: 0xc74f20a3 }]);
    expect(note.unverified).toEqual([{ name: "EnochRoot", keyId: 0xaf0cfe78 }]);
  });

  it("both known: both verified, in note order", () => {
    const note = open(`${text}\n${peterSig}${enochSig}`, [enochVerifier, peterVerifier]);
    expect(note.verifiedBy.map((s) => s.name)).toEqual(["PeterNeumann", "EnochRoot"]);
  });

  it("no known signature: rejected", () => {
    expect(errorCode(() => open(`${text}\n${peterSig}${enochSig}`, []))).toBe("unverified-note");
    expect(errorCode(() => open(go.signedNote, [enochVerifier]))).toBe("unverified-note");
  });

  it("a duplicated verifier is ambiguous only when its key signed", () => {
    expect(errorCode(() => open(`${text}\n${enochSig}`, [enochVerifier, peterVerifier, enochVerifier]))).toBe(
      "ambiguous-key",
    );
    expect(errorCode(() => open(`${text}\n${peterSig}`, [enochVerifier, peterVerifier, enochVerifier]))).toBe(
      "no error",
    );
  });

  it("more than 100 signatures is malformed, known keys or not", () => {
    const many = `${text}\n${peterSig.repeat(MAX_SIGNATURES + 1)}`;
    expect(errorCode(() => open(many, [peterVerifier]))).toBe("malformed-note");
    expect(errorCode(() => open(many, []))).toBe("malformed-note");
    // The spec requires accepting at least 16; duplicates are reported once.
    expect(open(`${text}\n${peterSig.repeat(16)}`, [peterVerifier]).verifiedBy).toHaveLength(1);
  });

  it("a corrupted signature by a known key rejects the note (Go's ABCD splice)", () => {
    const bad = `${text}\n${spliceBytes(peterSig, 60, "ABCD")}`;
    expect(errorCode(() => open(bad, [peterVerifier]))).toBe("invalid-signature");
    // Corrupted but by an unknown key: ignored, as long as a known key verified.
    const withBadEnoch = `${text}\n${peterSig}${peterSig}${enochSig}${enochSig}${spliceBytes(enochSig, 60, "ABCD")}`;
    const note = open(withBadEnoch, [peterVerifier]);
    expect(note.verifiedBy).toHaveLength(1);
    expect(note.unverified).toEqual([{ name: "EnochRoot", keyId: 0xaf0cfe78 }]);
  });

  it("Go's malformed messages are malformed", () => {
    const badMsgs = [
      text,
      `${text}\n`,
      `${text}\n${peterSig.slice(0, -1)}`,
      `\x01${text}\n${peterSig}`,
      `${text}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=`,
      `${text}\n${peterSig}Unexpected line.\n`,
    ];
    for (const msg of badMsgs) expect(errorCode(() => open(msg, [peterVerifier]))).toBe("malformed-note");
    // "\xff" + text: invalid UTF-8, only expressible as bytes.
    const invalidUtf8 = Buffer.concat([Buffer.from([0xff]), Buffer.from(`${text}\n${peterSig}`)]);
    expect(errorCode(() => open(invalidUtf8, [peterVerifier]))).toBe("malformed-note");
  });

  it("a signature line under another name is another (unknown) key", () => {
    const misnamed = `${text}\n${peterSig.replaceAll("PeterNeumann", "CarmenSandiego")}`;
    expect(errorCode(() => open(misnamed, [peterVerifier]))).toBe("unverified-note");
    const wrongId = `${text}\n${peterSig.replaceAll("x08g", "xxxx")}`;
    expect(errorCode(() => open(wrongId, [peterVerifier]))).toBe("unverified-note");
  });

  it("rejects Go's bad verifier keys (key ID adjusted, key wrong)", () => {
    expect(errorCode(() => parseVerifierKey(go.badVerifierKeys.wrongLengthKey))).toBe("malformed-key");
    expect(errorCode(() => parseVerifierKey(go.badVerifierKeys.unknownAlgorithm))).toBe("malformed-key");
  });

  it("rejects every substring and every one-byte increment of the verifier key (Go's manglings)", () => {
    const failures = manglings(peter.verifierKey).filter(
      (k) => errorCode(() => parseVerifierKey(k)) !== "malformed-key",
    );
    expect(failures).toEqual([]);
  });
});

/** Go's TestNewVerifier/TestNewSigner manglings: all proper substrings, then each byte + 1. */
function manglings(key: string): string[] {
  const out: string[] = [];
  for (let i = 0; i <= key.length; i++) {
    for (let j = i + 1; j <= key.length; j++) if (i !== 0 || j !== key.length) out.push(key.slice(i, j));
  }
  for (let i = 0; i < key.length; i++)
    out.push(key.slice(0, i) + String.fromCharCode(key.charCodeAt(i) + 1) + key.slice(i + 1));
  return out;
}

describe("new keys", () => {
  it("round trip: sign and open with a fresh key pair", () => {
    const pair = newKeyPair("vecto.local/inst-1");
    expect(pair.verifierKey).toMatch(/^vecto\.local\/inst-1\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$/);
    const note = sign("hello\n", pair.signer);
    expect(open(note, [parseVerifierKey(pair.verifierKey)])).toEqual({
      text: "hello\n",
      verifiedBy: [{ name: pair.name, keyId: pair.signer.keyId }],
      unverified: [],
    });
  });

  it("a new key pair offers no way to its private key: only a signer", () => {
    const pair = newKeyPair("vecto.local/inst-1");
    expect(Object.keys(pair).sort()).toEqual(["name", "publicKey", "signer", "verifierKey"]);
    expect(Object.keys(pair.signer).sort()).toEqual(["keyId", "name", "sign"]);
  });

  it("logging a signer shows no key material", () => {
    const forms = [
      Buffer.from(peterSeed).toString("hex"),
      Buffer.from(peterSeed).toString("base64").slice(0, 20),
      peter.signerKey.slice(-30),
    ];
    const printed = [JSON.stringify(peterSigner), inspect(peterSigner, { depth: 10, showHidden: true })];
    for (const p of printed) for (const f of forms) expect(p).not.toContain(f);
  });

  it("signs with several keys; refuses the same key twice", () => {
    const a = newKeyPair("a.example/log");
    const b = newKeyPair("b.example/witness");
    const note = sign("t\n", a.signer, b.signer);
    expect(open(note, [parseVerifierKey(b.verifierKey)]).unverified).toEqual([{ name: a.name, keyId: a.signer.keyId }]);
    expect(errorCode(() => sign("t\n", a.signer, a.signer))).toBe("ambiguous-key");
  });

  it("keeps blank lines inside the text (the last blank line separates)", () => {
    const pair = newKeyPair("k");
    const body = "line one\n\nline three\n\n";
    expect(open(sign(body, pair.signer), [parseVerifierKey(pair.verifierKey)]).text).toBe(body);
  });

  it("refuses to sign what could not be opened", () => {
    const { signer } = newKeyPair("k");
    for (const bad of ["no newline", "tab\there\n", "cr\r\n", "lone \ud800 surrogate\n"]) {
      expect(errorCode(() => sign(bad, signer))).toBe("malformed-note");
    }
  });

  it("applies the key name rules", () => {
    for (const good of ["PeterNeumann", "example.com/log42", "ünïcode/名前"]) expect(isValidKeyName(good)).toBe(true);
    for (const bad of ["", "a b", "a+b", "a\u00a0b", "a\u3000b", "a\nb", "a\u0001b"]) {
      expect(isValidKeyName(bad)).toBe(false);
      expect(errorCode(() => newKeyPair(bad))).toBe("malformed-key");
    }
  });

  it("rejects public keys of the wrong length", () => {
    expect(errorCode(() => formatVerifierKey("k", new Uint8Array(33)))).toBe("malformed-key");
  });
});

describe("tampering", () => {
  // A fixed key and text, so every variant below is the same on every run.
  const pair = { name: peter.name, signer: peterSigner };
  const verifier = peterVerifier;
  const note = sign("origin\n42\nroot\n", pair.signer);
  const [body, sigLine] = [note.slice(0, note.lastIndexOf("\n\n") + 2), note.slice(note.lastIndexOf("\n\n") + 2)];

  it("altered text", () => {
    expect(errorCode(() => open(note.replace("42", "43"), [verifier]))).toBe("invalid-signature");
  });

  it("altered signature (last signature byte flipped)", () => {
    const b64 = sigLine.slice(sigLine.lastIndexOf(" ") + 1, -1);
    const bytes = Buffer.from(b64, "base64");
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 1;
    expect(errorCode(() => open(body + sigLine.replace(b64, bytes.toString("base64")), [verifier]))).toBe(
      "invalid-signature",
    );
  });

  it("wrong key: another key under the same name", () => {
    const other = newKeyPair(pair.name);
    expect(errorCode(() => open(note, [parseVerifierKey(other.verifierKey)]))).toBe("unverified-note");
  });

  it("wrong key: a verifier claiming this key ID with another public key", () => {
    const impostor = { ...parseVerifierKey(newKeyPair(pair.name).verifierKey), keyId: verifier.keyId };
    expect(errorCode(() => open(note, [impostor]))).toBe("invalid-signature");
  });

  it("key name mismatch: same public key under another name is another key", () => {
    const renamed = parseVerifierKey(formatVerifierKey("vecto.local/inst-2", verifier.publicKey));
    expect(errorCode(() => open(note, [renamed]))).toBe("unverified-note");
    expect(errorCode(() => open(note.replace("— PeterNeumann ", "— vecto.local/inst-2 "), [verifier, renamed]))).toBe(
      "unverified-note",
    );
  });

  it("missing blank line", () => {
    expect(errorCode(() => open(body.slice(0, -1) + sigLine, [verifier]))).toBe("malformed-note");
  });

  it("wrong dash", () => {
    for (const dash of ["\u2013", "-", "\u2015", "--"]) {
      expect(errorCode(() => open(body + sigLine.replace("\u2014", dash), [verifier]))).toBe("malformed-note");
    }
  });

  it("truncated or non-canonical base64", () => {
    const b64 = sigLine.slice(sigLine.lastIndexOf(" ") + 1, -1);
    const variants = [
      b64.slice(0, -1),
      b64.slice(0, -2),
      b64.slice(0, 5),
      b64.replace(/=$/, ""),
      b64.replace(/[+/]/g, (c) => (c === "+" ? "-" : "_")),
      `${b64} `,
      "",
      "AAAA",
    ];
    expect(variants).not.toContain(b64);
    for (const v of variants)
      expect(errorCode(() => open(body + sigLine.replace(b64, v), [verifier]))).toBe("malformed-note");
  });

  it("base64 truncated on a 4-character boundary decodes, but is not a signature", () => {
    const b64 = sigLine.slice(sigLine.lastIndexOf(" ") + 1, -1);
    for (const v of [b64.slice(0, -4), b64.slice(0, 8)]) {
      expect(errorCode(() => open(body + sigLine.replace(b64, v), [verifier]))).toBe("invalid-signature");
    }
  });

  it("signature shorter than 64 bytes after a valid key ID is rejected, not thrown from crypto", () => {
    const b64 = sigLine.slice(sigLine.lastIndexOf(" ") + 1, -1);
    const short = Buffer.from(b64, "base64").subarray(0, 36).toString("base64");
    expect(errorCode(() => open(body + sigLine.replace(b64, short), [verifier]))).toBe("invalid-signature");
  });

  it("CRLF line endings are malformed", () => {
    expect(errorCode(() => open(note.replaceAll("\n", "\r\n"), [verifier]))).toBe("malformed-note");
  });
});
