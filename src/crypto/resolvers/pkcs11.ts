/**
 * Master key in a PKCS#11 token (an HSM; SoftHSM2 in tests). The key is an AES-256 object with
 * CKA_SENSITIVE and CKA_EXTRACTABLE=false: it never leaves the token, so DEKs are wrapped by
 * C_Encrypt(CKM_AES_GCM) inside it. C_WrapKey is not used: SoftHSM2 cannot GCM-wrap, and the DEK
 * is a byte string of ours, not a token object.
 *
 * The token is found by label on every (re)open, never by slot number: SoftHSM renumbers slots,
 * and a real HSM's slot list changes when partitions are added.
 */
import { randomBytes } from "node:crypto";
import { constants as fsc, promises as fsp } from "node:fs";
import type * as Pkcs11js from "pkcs11js";
import { AEAD_KEY_BYTES, AEAD_NONCE_BYTES, AEAD_TAG_BYTES } from "../aead-params.js";
import { HsmError, KeyFileError, KeyUnwrapError, MasterKeyUnavailableError } from "../errors.js";
import type { KeyResolver, ResolverInfo, TokenRecords, WrappedKey } from "../key-resolver.js";

/**
 * Where the master key is: the token, its PIN file and the key's label. The composition root fills them from
 * VECTO_PKCS11_* (src/config.ts); crypto reads no configuration itself.
 */
export interface Pkcs11Settings {
  readonly library: string;
  readonly tokenLabel: string;
  readonly pinFile: string;
  readonly keyLabel: string;
}

type Api = typeof Pkcs11js;
type Handle = Pkcs11js.Handle;

/** Enough for concurrent unwraps after a restart; a token has a limited session budget, shared with other apps. */
const POOL_SIZE = 4;
const MAX_PIN_FILE_BYTES = 256;
const TAG_BITS = AEAD_TAG_BYTES * 8;
/** PKCS#11 3.0 code; pkcs11js (2.40 names) has no constant for it. */
const CKR_AEAD_DECRYPT_FAILED = 0x35;

/** Codes that mean "the session, login or token went away": drop the pool, reopen on the next call. */
const TOKEN_GONE = new Set([
  "CKR_SESSION_HANDLE_INVALID",
  "CKR_SESSION_CLOSED",
  "CKR_DEVICE_REMOVED",
  "CKR_DEVICE_ERROR",
  "CKR_TOKEN_NOT_PRESENT",
  "CKR_TOKEN_NOT_RECOGNIZED",
  "CKR_USER_NOT_LOGGED_IN",
  "CKR_KEY_HANDLE_INVALID",
  "CKR_OBJECT_HANDLE_INVALID",
  "CKR_SLOT_ID_INVALID",
  // The library was re-initialised to rescan for a vanished token (see rescan below).
  "CKR_CRYPTOKI_NOT_INITIALIZED",
]);

const PIN_REFUSED = new Set([
  "CKR_PIN_INCORRECT",
  "CKR_PIN_LOCKED",
  "CKR_PIN_EXPIRED",
  "CKR_PIN_INVALID",
  "CKR_PIN_LEN_RANGE",
]);

/** What C_Decrypt reports for a failed GCM tag check (SoftHSM2 2.6 says CKR_GENERAL_ERROR). */
const AUTH_FAILED = new Set([
  "CKR_AEAD_DECRYPT_FAILED",
  "CKR_GENERAL_ERROR",
  "CKR_ENCRYPTED_DATA_INVALID",
  "CKR_ENCRYPTED_DATA_LEN_RANGE",
]);

export function pkcs11MasterLabel(tokenLabel: string, keyLabel: string): string {
  return `pkcs11:${tokenLabel}/${keyLabel}`;
}

/** The PKCS#11 return code name of an error thrown by pkcs11js, if it is one. */
function ckrOf(err: unknown): string | undefined {
  if (!(err instanceof Error) || err.name !== "Pkcs11Error") return undefined;
  const code = (err as Pkcs11js.Pkcs11Error).code;
  if (code === CKR_AEAD_DECRYPT_FAILED) return "CKR_AEAD_DECRYPT_FAILED";
  return /^CKR_[A-Z0-9_]+$/.test(err.message) ? err.message : `CKR_0x${code.toString(16)}`;
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0] ?? "unknown error";
}

// ---------------------------------------------------------------------------------------------
// Module loading: once per process and library, shared by every resolver in the process. The
// one exception to "initialise once" is rescan(): some modules (SoftHSM2 among them) only see a
// token that came back after C_Finalize + C_Initialize.

export interface LoadedPkcs11 {
  readonly api: Api;
  readonly lib: Pkcs11js.PKCS11;
  /** Operations running on sessions of this module, and when it was last re-initialised. */
  readonly state: { inFlight: number; rescannedAt: number };
}

/** At most one re-initialisation per interval: /readyz polling must not hammer the module. */
const RESCAN_INTERVAL_MS = 2000;

/**
 * Re-initialises the module so it looks for tokens afresh, when our token is not found. Only
 * while no operation runs on it (finalising would pull sessions from under them); a failed
 * C_Initialize (the token store still missing) leaves it uninitialised, and the next call retries.
 */
function rescan(loaded: LoadedPkcs11): boolean {
  const now = Date.now();
  if (loaded.state.inFlight > 0 || now - loaded.state.rescannedAt < RESCAN_INTERVAL_MS) return false;
  loaded.state.rescannedAt = now;
  try {
    loaded.lib.C_Finalize();
  } catch {
    // Not initialised (an earlier rescan failed): nothing to finalise.
  }
  try {
    loaded.lib.C_Initialize({ flags: loaded.api.CKF_OS_LOCKING_OK });
    return true;
  } catch {
    return false;
  }
}

const modules = new Map<string, Promise<LoadedPkcs11>>();

/** pkcs11js is CommonJS with a spread export: ESM sees it as `default`, the bundle as the object itself. */
async function importPkcs11js(): Promise<Api> {
  const mod: Api & { default?: Api } = await import("pkcs11js");
  return mod.default ?? mod;
}

async function loadModule(library: string): Promise<LoadedPkcs11> {
  try {
    await fsp.access(library, fsc.R_OK);
  } catch {
    throw new HsmError(`PKCS#11 library ${library} does not exist or is not readable (VECTO_PKCS11_LIB)`);
  }
  const api = await importPkcs11js();
  const lib = new api.PKCS11();
  try {
    lib.load(library);
  } catch (err) {
    throw new HsmError(`cannot load PKCS#11 library ${library}: ${firstLine(err)}`);
  }
  try {
    // OS locking: pooled sessions run C_Encrypt/C_Decrypt on libuv worker threads concurrently.
    lib.C_Initialize({ flags: api.CKF_OS_LOCKING_OK });
  } catch (err) {
    if (ckrOf(err) !== "CKR_CRYPTOKI_ALREADY_INITIALIZED") {
      throw new HsmError(
        `PKCS#11 library ${library} failed to initialise: ${ckrOf(err) ?? firstLine(err)}`,
        ckrOf(err),
      );
    }
  }
  return { api, lib, state: { inFlight: 0, rescannedAt: 0 } };
}

/** The initialised module for a library path; a failed load is not cached, so a fixed path works on retry. */
export function loadPkcs11(library: string): Promise<LoadedPkcs11> {
  let loading = modules.get(library);
  if (loading === undefined) {
    loading = loadModule(library);
    modules.set(library, loading);
    loading.catch(() => modules.delete(library));
  }
  return loading;
}

// ---------------------------------------------------------------------------------------------
// PIN file: same rules as the env master key file (no group/world access, small, regular file).

async function readPinFile(path: string): Promise<string> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(path, fsc.O_RDONLY);
  } catch (err) {
    throw new KeyFileError(
      `cannot read PKCS#11 PIN file ${path}: ${(err as NodeJS.ErrnoException).code ?? "unknown error"}`,
    );
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new KeyFileError(`PKCS#11 PIN file ${path} is not a regular file`);
    if ((st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, "0");
      throw new KeyFileError(
        `PKCS#11 PIN file ${path} has mode ${mode}; it must not be readable by group or others (chmod 600)`,
      );
    }
    const raw = Buffer.alloc(MAX_PIN_FILE_BYTES + 1);
    const { bytesRead } = await handle.read(raw, 0, raw.length, 0);
    const pin = raw.toString("utf8", 0, bytesRead).replace(/\r?\n$/, "");
    raw.fill(0);
    if (bytesRead > MAX_PIN_FILE_BYTES) throw new KeyFileError(`PKCS#11 PIN file ${path} is too large for a PIN`);
    if (pin === "" || pin.includes("\n"))
      throw new KeyFileError(`PKCS#11 PIN file ${path} must hold one non-empty line`);
    return pin;
  } finally {
    await handle.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Token access: slot by label, login, key by label.

interface TokenTarget {
  readonly library: string;
  readonly tokenLabel: string;
  readonly pin: string;
  readonly pinFile: string;
}

function slotsWithTokens(lib: Pkcs11js.PKCS11, target: TokenTarget): Handle[] {
  try {
    return lib.C_GetSlotList(true);
  } catch (err) {
    throw new HsmError(`cannot list PKCS#11 slots via ${target.library}: ${ckrOf(err) ?? firstLine(err)}`, ckrOf(err));
  }
}

/** A token's label, or undefined when the token cannot be read (being removed, broken). */
function tokenLabelOf(lib: Pkcs11js.PKCS11, slot: Handle): string | undefined {
  try {
    return lib.C_GetTokenInfo(slot).label.trim();
  } catch {
    return undefined;
  }
}

function findSlot(lib: Pkcs11js.PKCS11, target: TokenTarget): Handle {
  const present: string[] = [];
  const matches: Handle[] = [];
  for (const slot of slotsWithTokens(lib, target)) {
    const label = tokenLabelOf(lib, slot);
    if (label === target.tokenLabel) matches.push(slot);
    else if (label === undefined) present.push("(unreadable)");
    else if (label !== "") present.push(`"${label}"`);
  }
  const [slot, ...more] = matches;
  if (more.length > 0) {
    throw new HsmError(
      `${matches.length} PKCS#11 tokens are labelled "${target.tokenLabel}" in ${target.library}; token ` +
        `labels must be unique`,
    );
  }
  if (slot === undefined) {
    const seen = present.length > 0 ? present.sort().join(", ") : "none";
    throw new HsmError(
      `PKCS#11 token "${target.tokenLabel}" not found via ${target.library} (tokens present: ${seen})`,
      "CKR_TOKEN_NOT_PRESENT",
    );
  }
  return slot;
}

function login(loaded: LoadedPkcs11, session: Handle, target: TokenTarget): void {
  try {
    loaded.lib.C_Login(session, loaded.api.CKU_USER, target.pin);
  } catch (err) {
    const ckr = ckrOf(err);
    // Login state is per process and token: another session of ours already logged in.
    if (ckr === "CKR_USER_ALREADY_LOGGED_IN") return;
    const why =
      ckr === "CKR_PIN_INCORRECT"
        ? `wrong PIN in ${target.pinFile}`
        : ckr === "CKR_PIN_LOCKED"
          ? "the user PIN is locked"
          : (ckr ?? firstLine(err));
    throw new HsmError(
      `PKCS#11 login to token "${target.tokenLabel}" failed: ${why}${ckr !== undefined ? ` (${ckr})` : ""}`,
      ckr,
    );
  }
}

/** Opens a logged-in session on the token with the target's label. */
export function openTokenSession(
  loaded: LoadedPkcs11,
  target: TokenTarget,
  readWrite = false,
): { slot: Handle; session: Handle } {
  const slot = findSlot(loaded.lib, target);
  const flags = loaded.api.CKF_SERIAL_SESSION | (readWrite ? loaded.api.CKF_RW_SESSION : 0);
  let session: Handle;
  try {
    session = loaded.lib.C_OpenSession(slot, flags);
  } catch (err) {
    throw new HsmError(
      `cannot open a session on PKCS#11 token "${target.tokenLabel}": ${ckrOf(err) ?? firstLine(err)}`,
      ckrOf(err),
    );
  }
  try {
    login(loaded, session, target);
  } catch (err) {
    closeQuietly(loaded.lib, session);
    throw err;
  }
  return { slot, session };
}

function closeQuietly(lib: Pkcs11js.PKCS11, session: Handle): void {
  try {
    lib.C_CloseSession(session);
  } catch {
    // Already gone with the token or an earlier reset: nothing left to release.
  }
}

function findByLabel(loaded: LoadedPkcs11, session: Handle, label: string): Handle[] {
  const { api, lib } = loaded;
  lib.C_FindObjectsInit(session, [
    { type: api.CKA_CLASS, value: api.CKO_SECRET_KEY },
    { type: api.CKA_LABEL, value: label },
  ]);
  try {
    return lib.C_FindObjects(session, 2);
  } finally {
    lib.C_FindObjectsFinal(session);
  }
}

function attrNumber(value: Buffer): number {
  return value.length === 0 ? 0 : value.readUIntLE(0, Math.min(value.length, 6));
}

/** Refuses a key that is not AES-256 or could leave the token: the design promises it never does. */
function checkKeyObject(loaded: LoadedPkcs11, session: Handle, key: Handle, where: string): void {
  const { api, lib } = loaded;
  const attrs = lib.C_GetAttributeValue(session, key, [
    { type: api.CKA_KEY_TYPE },
    { type: api.CKA_VALUE_LEN },
    { type: api.CKA_SENSITIVE },
    { type: api.CKA_EXTRACTABLE },
  ]);
  const [type, len, sensitive, extractable] = attrs.map((a) => attrNumber(a.value));
  if (type !== api.CKK_AES || len !== AEAD_KEY_BYTES) throw new HsmError(`PKCS#11 key ${where} is not an AES-256 key`);
  if (sensitive !== 1 || extractable !== 0) {
    throw new HsmError(
      `PKCS#11 key ${where} is extractable or not sensitive; generate a non-extractable one (vecto keys init-hsm)`,
    );
  }
}

function findMasterKey(loaded: LoadedPkcs11, session: Handle, tokenLabel: string, keyLabel: string): Handle {
  const where = `"${keyLabel}" in token "${tokenLabel}"`;
  const found = findByLabel(loaded, session, keyLabel);
  const [key, ...more] = found;
  if (key === undefined) throw new HsmError(`no PKCS#11 secret key ${where}; create it with "vecto keys init-hsm"`);
  if (more.length > 0) throw new HsmError(`several PKCS#11 secret keys ${where}; key labels must be unique`);
  checkKeyObject(loaded, session, key, where);
  return key;
}

function gcmMechanism(api: Api, iv: Buffer, aad: Uint8Array): Pkcs11js.Mechanism {
  // The v2.40 struct: the pre-2.40 one has no ulIvBits, which 2.40 tokens read as garbage or 0.
  const parameter: Pkcs11js.AesGCM = {
    type: api.CK_PARAMS_AES_GCM_v240,
    iv,
    ivBits: iv.length * 8,
    aad: Buffer.from(aad),
    tagBits: TAG_BITS,
  };
  return { mechanism: api.CKM_AES_GCM, parameter };
}

// ---------------------------------------------------------------------------------------------
// Data objects (TokenRecords): private token objects of class CKO_DATA, found by label.

const RECORD_APPLICATION = "vecto";

function findData(loaded: LoadedPkcs11, session: Handle, label: string): Handle[] {
  const { api, lib } = loaded;
  lib.C_FindObjectsInit(session, [
    { type: api.CKA_CLASS, value: api.CKO_DATA },
    { type: api.CKA_LABEL, value: label },
  ]);
  try {
    // More than two means leftovers of several interrupted replaces; all are read, and removed by the next one.
    return lib.C_FindObjects(session, 16);
  } finally {
    lib.C_FindObjectsFinal(session);
  }
}

function dataValue(loaded: LoadedPkcs11, session: Handle, object: Handle): Uint8Array {
  const [attr] = loaded.lib.C_GetAttributeValue(session, object, [{ type: loaded.api.CKA_VALUE }]);
  return new Uint8Array(attr?.value ?? Buffer.alloc(0));
}

function readRecords(loaded: LoadedPkcs11, session: Handle, label: string): Uint8Array[] {
  return findData(loaded, session, label).map((object) => dataValue(loaded, session, object));
}

/**
 * Creates the new object first, then destroys the older ones it supersedes: a crash in between
 * leaves both, never neither. Not modifiable (CKA_MODIFIABLE=false): it is replaced, never edited.
 */
function replaceRecord(
  loaded: LoadedPkcs11,
  session: Handle,
  label: string,
  value: Uint8Array,
  supersedes: (older: Uint8Array) => boolean,
): void {
  const { api, lib } = loaded;
  const before = findData(loaded, session, label);
  lib.C_CreateObject(session, [
    { type: api.CKA_CLASS, value: api.CKO_DATA },
    { type: api.CKA_TOKEN, value: true },
    { type: api.CKA_PRIVATE, value: true },
    { type: api.CKA_MODIFIABLE, value: false },
    { type: api.CKA_LABEL, value: label },
    { type: api.CKA_APPLICATION, value: RECORD_APPLICATION },
    { type: api.CKA_VALUE, value: Buffer.from(value) },
  ]);
  for (const object of before) {
    if (supersedes(dataValue(loaded, session, object))) lib.C_DestroyObject(session, object);
  }
}

// ---------------------------------------------------------------------------------------------
// Session pool. One logged-in token "generation" at a time; a token error retires it and the next
// call opens a new one (finding the slot again), so service resumes when the token comes back.

class TokenGone extends Error {}

class OpenToken {
  readonly idle: Handle[];
  size = 1;
  closed = false;
  readonly waiters: ((session: Handle | "retry" | "closed") => void)[] = [];

  constructor(
    readonly loaded: LoadedPkcs11,
    readonly slot: Handle,
    readonly key: Handle,
    first: Handle,
  ) {
    this.idle = [first];
  }
}

type SessionWork<T> = (loaded: LoadedPkcs11, session: Handle, key: Handle) => Promise<T>;

class SessionPool {
  readonly #target: TokenTarget & { keyLabel: string };
  #current: Promise<OpenToken> | undefined;
  /** A wrong or locked PIN: sticky until restart. */
  #pinRefused: HsmError | undefined;
  /** The token #current resolved to, so a retired generation can tell whether it is still current. */
  #opened: OpenToken | undefined;

  constructor(target: TokenTarget & { keyLabel: string }) {
    this.#target = target;
  }

  /** Runs work on a pooled session; after a token error, reopens once and retries. */
  async run<T>(work: SessionWork<T>): Promise<T> {
    try {
      return await this.#runOnce(work);
    } catch (err) {
      if (!isTokenGone(err)) throw err;
      try {
        return await this.#runOnce(work);
      } catch (again) {
        if (!isTokenGone(again)) throw again;
        const ckr = ckrOf(again);
        throw new HsmError(
          `PKCS#11 token "${this.#target.tokenLabel}" is unavailable: ${ckr ?? "sessions were closed"}`,
          ckr,
        );
      }
    }
  }

  /**
   * Runs work on a read-write session of its own, closed afterwards: creating and destroying token
   * objects needs one, and the pooled sessions that wrap and unwrap stay read-only.
   */
  runReadWrite<T>(work: (loaded: LoadedPkcs11, session: Handle) => T): Promise<T> {
    return this.run(async (loaded) => {
      const { session } = openTokenSession(loaded, this.#target, true);
      try {
        return work(loaded, session);
      } finally {
        closeQuietly(loaded.lib, session);
      }
    });
  }

  async #runOnce<T>(work: SessionWork<T>): Promise<T> {
    const token = await this.#token();
    let session: Handle;
    try {
      session = await this.#acquire(token);
    } catch (err) {
      if (isTokenGone(err)) this.#retire(token);
      throw err;
    }
    token.loaded.state.inFlight++;
    try {
      const result = await work(token.loaded, session, token.key);
      this.#release(token, session);
      return result;
    } catch (err) {
      this.#discard(token, session);
      if (isTokenGone(err)) this.#retire(token);
      throw err;
    } finally {
      token.loaded.state.inFlight--;
    }
  }

  #token(): Promise<OpenToken> {
    if (this.#current === undefined) {
      const opening = this.#open();
      this.#current = opening;
      opening.then(
        (token) => {
          if (this.#current === opening) this.#opened = token;
        },
        () => {
          if (this.#current === opening) this.#current = undefined;
        },
      );
    }
    return this.#current;
  }

  async #open(): Promise<OpenToken> {
    if (this.#pinRefused !== undefined) throw this.#pinRefused;
    const loaded = await loadPkcs11(this.#target.library);
    let opened: { slot: Handle; session: Handle };
    try {
      opened = this.#openSession(loaded);
    } catch (err) {
      // Never retry a refused PIN: /readyz polling would use up a real token's PIN attempts.
      if (err instanceof HsmError && err.ckr !== undefined && PIN_REFUSED.has(err.ckr)) this.#pinRefused = err;
      throw err;
    }
    const { slot, session } = opened;
    try {
      return new OpenToken(
        loaded,
        slot,
        findMasterKey(loaded, session, this.#target.tokenLabel, this.#target.keyLabel),
        session,
      );
    } catch (err) {
      closeQuietly(loaded.lib, session);
      throw err;
    }
  }

  /** Opens a session; when the token is missing, rescans the module once and tries again (the token may be back). */
  #openSession(loaded: LoadedPkcs11): { slot: Handle; session: Handle } {
    try {
      return openTokenSession(loaded, this.#target);
    } catch (err) {
      const ckr = err instanceof HsmError ? err.ckr : undefined;
      if (ckr === undefined || !TOKEN_GONE.has(ckr) || !rescan(loaded)) throw this.#unavailable(err);
      try {
        return openTokenSession(loaded, this.#target);
      } catch (again) {
        throw this.#unavailable(again);
      }
    }
  }

  /** While the module is uninitialised its own message says little; name the token instead. */
  #unavailable(err: unknown): unknown {
    if (err instanceof HsmError && err.ckr === "CKR_CRYPTOKI_NOT_INITIALIZED") {
      return new HsmError(
        `PKCS#11 token "${this.#target.tokenLabel}" is unavailable: the module could not be ` +
          `re-initialised (is the token store there?)`,
        err.ckr,
      );
    }
    return err;
  }

  async #acquire(token: OpenToken): Promise<Handle> {
    for (;;) {
      if (token.closed) throw new TokenGone();
      const idle = token.idle.pop();
      if (idle !== undefined) return idle;
      if (token.size < POOL_SIZE) return this.#grow(token);
      const next = await new Promise<Handle | "retry" | "closed">((resolve) => token.waiters.push(resolve));
      if (next === "closed") throw new TokenGone();
      if (next !== "retry") return next;
    }
  }

  /** Extra sessions need no login: PKCS#11 login state is shared by all sessions of the process. */
  #grow(token: OpenToken): Handle {
    token.size++;
    try {
      return token.loaded.lib.C_OpenSession(token.slot, token.loaded.api.CKF_SERIAL_SESSION);
    } catch (err) {
      token.size--;
      throw err;
    }
  }

  #release(token: OpenToken, session: Handle): void {
    if (token.closed) {
      closeQuietly(token.loaded.lib, session);
      return;
    }
    const waiter = token.waiters.shift();
    if (waiter !== undefined) waiter(session);
    else token.idle.push(session);
  }

  /** A session that saw an error may hold a half-done operation: close it rather than reuse it. */
  #discard(token: OpenToken, session: Handle): void {
    closeQuietly(token.loaded.lib, session);
    token.size--;
    token.waiters.shift()?.("retry");
  }

  #retire(token: OpenToken): void {
    if (token.closed) return;
    token.closed = true;
    for (const session of token.idle.splice(0)) closeQuietly(token.loaded.lib, session);
    for (const waiter of token.waiters.splice(0)) waiter("closed");
    if (this.#opened === token) {
      this.#opened = undefined;
      this.#current = undefined;
    }
  }

  /** Closes this pool's sessions (tests, shutdown). The module stays initialised for others. */
  async close(): Promise<void> {
    const token = await this.#current?.catch(() => undefined);
    if (token !== undefined) this.#retire(token);
  }
}

function isTokenGone(err: unknown): boolean {
  if (err instanceof TokenGone) return true;
  const ckr = ckrOf(err);
  return ckr !== undefined && TOKEN_GONE.has(ckr);
}

// ---------------------------------------------------------------------------------------------

export class Pkcs11KeyResolver implements KeyResolver {
  readonly #config: Pkcs11Settings;
  readonly #label: string;
  readonly #pool: SessionPool;

  private constructor(config: Pkcs11Settings, pin: string) {
    this.#config = config;
    this.#label = pkcs11MasterLabel(config.tokenLabel, config.keyLabel);
    this.#pool = new SessionPool({ ...config, pin });
  }

  /** Reads the PIN, logs in and finds the key now, so a misconfiguration stops startup with one clear line. */
  static async open(config: Pkcs11Settings): Promise<Pkcs11KeyResolver> {
    const resolver = new Pkcs11KeyResolver(config, await readPinFile(config.pinFile));
    await resolver.#pool.run(async () => undefined);
    return resolver;
  }

  async wrap(dek: Uint8Array, aad: Uint8Array): Promise<WrappedKey> {
    const iv = randomBytes(AEAD_NONCE_BYTES);
    let sealed: Buffer;
    try {
      sealed = await this.#encrypt(iv, dek, aad);
    } catch (err) {
      throw this.#hsmFailure("C_Encrypt", err);
    }
    const blob = new Uint8Array(iv.length + sealed.length);
    blob.set(iv, 0);
    blob.set(sealed, iv.length);
    return { masterLabel: this.#label, blob };
  }

  async unwrap(wrapped: WrappedKey, aad: Uint8Array): Promise<Uint8Array> {
    if (wrapped.masterLabel !== this.#label) {
      throw new MasterKeyUnavailableError(
        `DEK was wrapped by master key ${wrapped.masterLabel}, but the loaded master key is ${this.#label}`,
      );
    }
    if (wrapped.blob.length < AEAD_NONCE_BYTES + AEAD_TAG_BYTES) {
      throw new KeyUnwrapError(`wrapped DEK for master key ${this.#label} is truncated`);
    }
    const iv = Buffer.from(wrapped.blob.subarray(0, AEAD_NONCE_BYTES));
    const sealed = Buffer.from(wrapped.blob.subarray(AEAD_NONCE_BYTES));
    const out = Buffer.alloc(sealed.length);
    try {
      return new Uint8Array(await this.#decrypt(iv, sealed, aad, out));
    } catch (err) {
      throw await this.#unwrapFailure(err);
    } finally {
      out.fill(0);
    }
  }

  #encrypt(iv: Buffer, plain: Uint8Array, aad: Uint8Array): Promise<Buffer> {
    // A view, not a copy: no extra DEK bytes left behind in Node's Buffer pool.
    const input = Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength);
    return this.#pool.run(async ({ api, lib }, session, key) => {
      lib.C_EncryptInit(session, gcmMechanism(api, iv, aad), key);
      return lib.C_EncryptAsync(session, input, Buffer.alloc(plain.byteLength + AEAD_TAG_BYTES));
    });
  }

  #decrypt(iv: Buffer, sealed: Buffer, aad: Uint8Array, out: Buffer): Promise<Buffer> {
    return this.#pool.run(async ({ api, lib }, session, key) => {
      lib.C_DecryptInit(session, gcmMechanism(api, iv, aad), key);
      return lib.C_DecryptAsync(session, sealed, out);
    });
  }

  /**
   * SoftHSM2 reports a failed GCM tag and a broken token alike (CKR_GENERAL_ERROR), so a probe
   * round trip decides: a healthy token means the blob is at fault, not the HSM.
   */
  async #unwrapFailure(err: unknown): Promise<unknown> {
    const ckr = ckrOf(err);
    if (ckr === undefined || !AUTH_FAILED.has(ckr)) return this.#hsmFailure("C_Decrypt", err);
    const healthy = await this.#selfTest().then(
      () => true,
      () => false,
    );
    if (!healthy) return this.#hsmFailure("C_Decrypt", err);
    return new KeyUnwrapError(
      `wrapped DEK failed authentication under master key ${this.#label}: tampered, or bound to another tenant/version`,
    );
  }

  /** Gives a raw pkcs11js error the operation, the key and the token; our own errors pass through. */
  #hsmFailure(operation: string, err: unknown): unknown {
    const ckr = ckrOf(err);
    if (ckr === undefined) return err;
    return new HsmError(`PKCS#11 ${operation} with master key ${this.#label} failed: ${ckr}`, ckr);
  }

  async #selfTest(): Promise<void> {
    const probe = randomBytes(AEAD_KEY_BYTES);
    const iv = randomBytes(AEAD_NONCE_BYTES);
    const aad = new TextEncoder().encode("vecto/readyz");
    const out = Buffer.alloc(AEAD_KEY_BYTES + AEAD_TAG_BYTES);
    const back = await this.#decrypt(iv, await this.#encrypt(iv, probe, aad), aad, out);
    const same = back.equals(probe);
    out.fill(0);
    if (!same) throw new MasterKeyUnavailableError(`master key ${this.#label} failed its self-test`);
  }

  describe(): ResolverInfo {
    return {
      kind: "pkcs11",
      masterLabel: this.#label,
      detail: { library: this.#config.library, token: this.#config.tokenLabel },
    };
  }

  /** A real encrypt/decrypt round trip through the token: proves session, login and key, touches no stored data. */
  async check(): Promise<void> {
    try {
      await this.#selfTest();
    } catch (err) {
      throw this.#hsmFailure("self-test", err);
    }
  }

  /** Data objects in the token beside the master key (the audit log's anchor: src/audit/anchor.ts). */
  readonly tokenRecords: TokenRecords = {
    where: "the HSM (PKCS#11 token)",
    read: (name) =>
      this.#records("C_FindObjects", () =>
        this.#pool.run(async (loaded, session) => readRecords(loaded, session, name)),
      ),
    replace: (name, value, supersedes) =>
      this.#records("C_CreateObject", () =>
        this.#pool.runReadWrite((loaded, session) => replaceRecord(loaded, session, name, value, supersedes)),
      ),
  };

  async #records<T>(operation: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      const ckr = ckrOf(err);
      throw ckr === undefined
        ? err
        : new HsmError(
            `PKCS#11 ${operation} of a data object in token "${this.#config.tokenLabel}" failed: ${ckr}`,
            ckr,
          );
    }
  }

  /** Closes this resolver's sessions. Not part of KeyResolver: the process normally just exits. */
  close(): Promise<void> {
    return this.#pool.close();
  }
}

// ---------------------------------------------------------------------------------------------

function masterKeyTemplate(api: Api, keyLabel: string): Pkcs11js.Template {
  return [
    { type: api.CKA_CLASS, value: api.CKO_SECRET_KEY },
    { type: api.CKA_KEY_TYPE, value: api.CKK_AES },
    { type: api.CKA_VALUE_LEN, value: AEAD_KEY_BYTES },
    { type: api.CKA_LABEL, value: keyLabel },
    { type: api.CKA_TOKEN, value: true },
    { type: api.CKA_PRIVATE, value: true },
    { type: api.CKA_SENSITIVE, value: true },
    { type: api.CKA_EXTRACTABLE, value: false },
    { type: api.CKA_ENCRYPT, value: true },
    { type: api.CKA_DECRYPT, value: true },
    // Only C_Encrypt/C_Decrypt use it; no key-wrapping or signing roles it does not need.
    { type: api.CKA_WRAP, value: false },
    { type: api.CKA_UNWRAP, value: false },
    { type: api.CKA_SIGN, value: false },
    { type: api.CKA_VERIFY, value: false },
    { type: api.CKA_DERIVE, value: false },
  ];
}

/**
 * `vecto keys init-hsm`: generates the master key inside the token. Refuses when a secret key with
 * the label exists: a second one would make the label ambiguous, and replacing one loses data.
 */
export async function generateHsmMasterKey(config: Pkcs11Settings): Promise<{ masterLabel: string }> {
  const target = { ...config, pin: await readPinFile(config.pinFile) };
  const loaded = await loadPkcs11(config.library);
  const { session } = openTokenSession(loaded, target, true);
  try {
    if (findByLabel(loaded, session, config.keyLabel).length > 0) {
      throw new HsmError(
        `a secret key labelled "${config.keyLabel}" already exists in token "${config.tokenLabel}"; ` +
          `refusing to create another`,
      );
    }
    try {
      loaded.lib.C_GenerateKey(
        session,
        { mechanism: loaded.api.CKM_AES_KEY_GEN },
        masterKeyTemplate(loaded.api, config.keyLabel),
      );
    } catch (err) {
      throw new HsmError(
        `cannot generate the master key in token "${config.tokenLabel}": ${ckrOf(err) ?? firstLine(err)}`,
        ckrOf(err),
      );
    }
    return { masterLabel: pkcs11MasterLabel(config.tokenLabel, config.keyLabel) };
  } finally {
    closeQuietly(loaded.lib, session);
  }
}
