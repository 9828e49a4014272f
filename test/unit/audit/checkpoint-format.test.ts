import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  CheckpointError,
  checkpointOrigin,
  formatCheckpoint,
  parseCheckpoint,
  signCheckpoint,
  verifyCheckpoint,
  type Checkpoint,
} from "../../../src/audit/checkpoint-format.js";
import { SignedNoteError, newKeyPair, open, parseVerifierKey, sign } from "../../../src/audit/signed-note.js";

/** Root hash of the tlog-checkpoint spec's example, reused only as 32 known bytes. */
const SPEC_ROOT = new Uint8Array(Buffer.from("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=", "base64"));
/** RFC 6962: the root of the empty tree is SHA-256 of the empty string. */
const EMPTY_ROOT = new Uint8Array(createHash("sha256").digest());

const origin = checkpointOrigin("3f1c9a2e-7b4d-4e8a-9c1f-2a5b6c7d8e9f", "audit");
const cp: Checkpoint = { origin, size: 20852163, rootHash: SPEC_ROOT, time: new Date("2025-01-02T03:04:05Z") };
const pair = newKeyPair(origin);

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return null;
}

describe("checkpoint text", () => {
  it("has the exact C2SP layout plus one time extension line (golden)", () => {
    expect(formatCheckpoint(cp)).toBe(
      "vecto.local/3f1c9a2e-7b4d-4e8a-9c1f-2a5b6c7d8e9f/audit\n" +
        "20852163\n" +
        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n" +
        "time 2025-01-02T03:04:05Z\n",
    );
  });

  it("empty tree: size 0 and the empty root; milliseconds kept when present", () => {
    const empty = {
      origin: "vecto.local/i/s",
      size: 0,
      rootHash: EMPTY_ROOT,
      time: new Date("2025-06-30T23:59:59.250Z"),
    };
    expect(formatCheckpoint(empty)).toBe(
      "vecto.local/i/s\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\ntime 2025-06-30T23:59:59.250Z\n",
    );
  });

  it("parse is the exact inverse of format", () => {
    const parsed = parseCheckpoint(formatCheckpoint(cp));
    expect(parsed).toEqual(cp);
    expect(formatCheckpoint(parsed)).toBe(formatCheckpoint(cp));
  });

  it("refuses non-canonical or out-of-range sizes", () => {
    const body = (size: string): string =>
      `${origin}\n${size}\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\ntime 2025-01-02T03:04:05Z\n`;
    expect(parseCheckpoint(body("0")).size).toBe(0);
    expect(parseCheckpoint(body("9007199254740991")).size).toBe(Number.MAX_SAFE_INTEGER);
    for (const bad of [
      "",
      "007",
      "00",
      "-1",
      "+1",
      "1e3",
      " 1",
      "1 ",
      "1.0",
      "0x10",
      "9007199254740992",
      "12345678901234567890",
      "١",
    ]) {
      expect(thrown(() => parseCheckpoint(body(bad)))).toBeInstanceOf(CheckpointError);
    }
  });

  it("refuses root hashes that are not exactly 32 bytes of padded standard base64", () => {
    const body = (root: string): string => `${origin}\n1\n${root}\ntime 2025-01-02T03:04:05Z\n`;
    const good = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
    const bad = [
      good.slice(0, -1), // unpadded
      good.replace("/", "_"), // URL alphabet
      good.replace("I=", "J="), // stray low bits: a second spelling of the same bytes
      Buffer.alloc(31).toString("base64"),
      Buffer.alloc(33).toString("base64"),
      `${good} `,
      "",
    ];
    for (const root of bad) expect(thrown(() => parseCheckpoint(body(root)))).toBeInstanceOf(CheckpointError);
  });

  it("refuses missing, malformed or extra extension lines and blank lines", () => {
    const head = `${origin}\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n`;
    const bad = [
      head, // no time line (a plain C2SP checkpoint is not a Vecto checkpoint)
      `${head}time 2025-01-02T03:04:05Z`, // no final newline
      `${head}time 2025-01-02T03:04:05Z\nother extension\n`,
      `${head}\ntime 2025-01-02T03:04:05Z\n`,
      `${head}time 2025-01-02T03:04:05Z\n\n`,
      `${head}time 2025-01-02T03:04:05.000Z\n`, // non-canonical: whole seconds are written without ".000"
      `${head}time 2025-01-02T03:04:05+00:00\n`,
      `${head}time 2025-01-02 03:04:05Z\n`,
      `${head}time 2025-02-30T03:04:05Z\n`,
      `${head}time 2025-01-02T03:04:05.1Z\n`,
      `${head}time  2025-01-02T03:04:05Z\n`,
      `${head}Time 2025-01-02T03:04:05Z\n`,
      `\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\ntime 2025-01-02T03:04:05Z\n`,
      `${origin}\r\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\ntime 2025-01-02T03:04:05Z\n`,
    ];
    for (const text of bad) expect(thrown(() => parseCheckpoint(text))).toBeInstanceOf(CheckpointError);
  });

  it("refuses to format what it could not parse back", () => {
    const bad: Checkpoint[] = [
      { ...cp, origin: "" },
      { ...cp, origin: "a\nb" },
      { ...cp, origin: "a b" },
      { ...cp, size: -1 },
      { ...cp, size: 1.5 },
      { ...cp, size: 2 ** 53 },
      { ...cp, rootHash: new Uint8Array(31) },
      { ...cp, time: new Date(Number.NaN) },
      { ...cp, time: new Date("+010000-01-01T00:00:00Z") },
    ];
    for (const c of bad) expect(thrown(() => formatCheckpoint(c))).toBeInstanceOf(CheckpointError);
  });
});

describe("checkpointOrigin", () => {
  it("builds vecto.local/<installation-id>/<scope>", () => {
    expect(checkpointOrigin("inst-1", "tenant.acme")).toBe("vecto.local/inst-1/tenant.acme");
  });

  it("refuses segments that would make the origin ambiguous or an invalid key name", () => {
    for (const [id, scope] of [
      ["", "s"],
      ["i", ""],
      ["a/b", "s"],
      ["i", "a/b"],
      ["a b", "s"],
      ["i", "a+b"],
      ["-i", "s"],
      ["i", "s\n"],
      ["i", "x".repeat(129)],
    ] as const) {
      expect(thrown(() => checkpointOrigin(id, scope))).toBeInstanceOf(CheckpointError);
    }
  });
});

describe("signed checkpoints", () => {
  const note = signCheckpoint(cp, pair.signer);

  it("round trip: signed by the installation key, verified with only its verifier key", () => {
    expect(note).toBe(`${formatCheckpoint(cp)}\n${note.slice(formatCheckpoint(cp).length + 1)}`);
    expect(note.slice(formatCheckpoint(cp).length + 1)).toMatch(new RegExp(`^\u2014 ${origin} [A-Za-z0-9+/]{91}=\n$`));
    expect(verifyCheckpoint(note, pair.verifierKey, origin)).toEqual(cp);
    expect(verifyCheckpoint(Buffer.from(note), parseVerifierKey(pair.verifierKey), origin)).toEqual(cp);
  });

  it("fails for another expected origin", () => {
    const err = thrown(() =>
      verifyCheckpoint(note, pair.verifierKey, checkpointOrigin("3f1c9a2e-7b4d-4e8a-9c1f-2a5b6c7d8e9f", "other")),
    );
    expect(err).toBeInstanceOf(CheckpointError);
  });

  it("fails for a checkpoint of another log signed by the same key", () => {
    const other = signCheckpoint({ ...cp, origin: "vecto.local/other-installation/audit" }, pair.signer);
    expect(thrown(() => verifyCheckpoint(other, pair.verifierKey, origin))).toBeInstanceOf(CheckpointError);
  });

  it("fails for another key, even under the same name", () => {
    const stranger = newKeyPair(origin);
    const err = thrown(() => verifyCheckpoint(note, stranger.verifierKey, origin));
    expect(err).toBeInstanceOf(SignedNoteError);
    expect((err as SignedNoteError).code).toBe("unverified-note");
  });

  it("fails when size, root hash or time are edited after signing", () => {
    const edits = [
      note.replace("\n20852163\n", "\n20852164\n"),
      note.replace("CsUYapGG", "DsUYapGG"),
      note.replace("03:04:05Z", "03:04:06Z"),
    ];
    for (const edited of edits) {
      expect(edited).not.toBe(note);
      const err = thrown(() => verifyCheckpoint(edited, pair.verifierKey, origin));
      expect(err).toBeInstanceOf(SignedNoteError);
      expect((err as SignedNoteError).code).toBe("invalid-signature");
    }
  });

  it("a correctly signed note with a bad body is refused as a checkpoint", () => {
    const notCheckpoint = sign(
      `${origin}\n01\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\ntime 2025-01-02T03:04:05Z\n`,
      pair.signer,
    );
    expect(open(notCheckpoint, [parseVerifierKey(pair.verifierKey)]).verifiedBy).toHaveLength(1);
    expect(thrown(() => verifyCheckpoint(notCheckpoint, pair.verifierKey, origin))).toBeInstanceOf(CheckpointError);
  });

  it("ignores cosignatures by unknown keys (witnesses), as the spec requires", () => {
    const witness = newKeyPair("witness.example/w1");
    const cosigned = sign(formatCheckpoint(cp), pair.signer, witness.signer);
    expect(verifyCheckpoint(cosigned, pair.verifierKey, origin)).toEqual(cp);
    expect(verifyCheckpoint(cosigned, witness.verifierKey, origin)).toEqual(cp);
  });
});
