/**
 * Key and storage failures reach the server as the kinds of src/errors.ts, not as the classes of
 * src/crypto and src/db (which the server never imports): each class that means "not now, retry"
 * must carry its kind, and nothing else may be taken for one.
 */
import { describe, expect, it } from "vitest";
import {
  CryptoError,
  DecryptError,
  HsmError,
  KeyFileError,
  KeyUnwrapError,
  MasterKeyRetiredError,
  MasterKeyUnavailableError,
  TenantKeyError,
} from "../../src/crypto/errors.js";
import { StorageFullError } from "../../src/db/storage.js";
import { StorageFailedError } from "../../src/db/wal-sync.js";
import { DomainError, unavailableKind } from "../../src/errors.js";

describe("unavailableKind", () => {
  it("names the kind of every key and storage failure", () => {
    expect(unavailableKind(new MasterKeyUnavailableError("master key k1 is not loaded"))).toBe("keys-unavailable");
    expect(unavailableKind(new HsmError("token absent", "CKR_TOKEN_NOT_PRESENT"))).toBe("keys-unavailable");
    expect(unavailableKind(new KeyUnwrapError("wrap does not open"))).toBe("keys-unavailable");
    expect(unavailableKind(new TenantKeyError("no usable data key"))).toBe("keys-unavailable");
    expect(unavailableKind(new MasterKeyRetiredError("k1"))).toBe("master-key-retired");
    expect(unavailableKind(new StorageFullError("the disk is full"))).toBe("storage-full");
    expect(unavailableKind(new StorageFailedError("the fsync failed"))).toBe("storage-failed");
  });

  it("takes nothing else for one: bad data, bad files, domain errors, look-alikes", () => {
    expect(unavailableKind(new DecryptError())).toBeUndefined();
    expect(unavailableKind(new KeyFileError("master key file is world-readable"))).toBeUndefined();
    expect(unavailableKind(new CryptoError("x"))).toBeUndefined();
    expect(unavailableKind(new DomainError("not-found", "no such node"))).toBeUndefined();
    expect(unavailableKind(Object.assign(new Error("x"), { unavailable: "keys-gone" }))).toBeUndefined();
    expect(unavailableKind({ unavailable: "storage-full", message: "not an Error" })).toBeUndefined();
    expect(unavailableKind(undefined)).toBeUndefined();
  });
});
