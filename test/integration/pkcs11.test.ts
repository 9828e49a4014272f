/**
 * The pkcs11 key resolver against a real SoftHSM2 token (Debian `softhsm2`, installed by npm test: test/system-tools.sh).
 * No mocks: every wrap and unwrap is a C_Encrypt/C_Decrypt inside the token.
 *
 * SoftHSM reads SOFTHSM2_CONF once, when the PKCS#11 module is initialised; this file runs in its
 * own worker process (pool "forks"), so setting it in beforeAll, before the first resolver, is safe.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, cpSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, type Pkcs11Config } from "../../src/config.js";
import { CryptoService } from "../../src/crypto/crypto-service.js";
import { HsmError, KeyFileError, KeyUnwrapError, MasterKeyUnavailableError } from "../../src/crypto/errors.js";
import {
  generateHsmMasterKey,
  loadPkcs11,
  openTokenSession,
  Pkcs11KeyResolver,
} from "../../src/crypto/resolvers/pkcs11.js";
import { EnvKeyResolver, generateMasterKeyFile } from "../../src/crypto/resolvers/env.js";
import type { KeyResolver } from "../../src/crypto/key-resolver.js";
import { createLogger } from "../../src/log.js";
import { retireMaster, rotateMaster } from "../../src/key-admin/rotation.js";
import { openServices } from "../../src/services.js";
import { createSoftHsmToken, softHsmVersion, type SoftHsmToken } from "../fixtures/softhsm.js";
import { freePort, runCli, startServe, tempDir, waitForExit } from "../helpers.js";
import { STRONG_PASSWORD } from "../identity-fixture.js";
import { createAcme, loginToken, serveClient, setupRoot, type Call } from "../serve-client.js";

const MASTER = "vecto-master";
const OTHER = "other-master";
const aad = new TextEncoder().encode("tenant-1|1");

let hsm: SoftHsmToken;
let resolver: Pkcs11KeyResolver;
const opened: Pkcs11KeyResolver[] = [];
const previousConf = process.env.SOFTHSM2_CONF;

function cfg(overrides: Partial<Pkcs11Config> = {}): Pkcs11Config {
  return { library: hsm.library, tokenLabel: hsm.tokenLabel, pinFile: hsm.pinFile, keyLabel: MASTER, ...overrides };
}

async function open(overrides: Partial<Pkcs11Config> = {}): Promise<Pkcs11KeyResolver> {
  const r = await Pkcs11KeyResolver.open(cfg(overrides));
  opened.push(r);
  return r;
}

async function captureError(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a rejection");
}

beforeAll(async () => {
  hsm = createSoftHsmToken();
  // Before the module initialises: SoftHSM does not see tokens other processes create later.
  hsm.addToken("vecto-pin");
  process.env.SOFTHSM2_CONF = hsm.conf;
  await generateHsmMasterKey(cfg());
  await generateHsmMasterKey(cfg({ keyLabel: OTHER }));
  resolver = await open();
});

afterAll(async () => {
  for (const r of opened) await r.close();
  if (previousConf === undefined) delete process.env.SOFTHSM2_CONF;
  else process.env.SOFTHSM2_CONF = previousConf;
  hsm.cleanup();
});

describe("pkcs11 resolver: wrap and unwrap inside SoftHSM2", () => {
  it("runs against a real SoftHSM2", () => {
    expect(softHsmVersion()).toMatch(/^2\.\d+\.\d+/);
  });

  it("round-trips a DEK; the blob is iv(12) || ct || tag(16), fresh IV each time", async () => {
    const dek = randomBytes(32);
    const a = await resolver.wrap(dek, aad);
    const b = await resolver.wrap(dek, aad);
    expect(a.masterLabel).toBe("pkcs11:vecto-test/vecto-master");
    expect(a.blob).toHaveLength(12 + 32 + 16);
    expect(Buffer.from(a.blob.subarray(0, 12)).equals(Buffer.from(b.blob.subarray(0, 12)))).toBe(false);
    expect(Buffer.from(await resolver.unwrap(a, aad)).equals(dek)).toBe(true);
    expect(Buffer.from(await resolver.unwrap(b, aad)).equals(dek)).toBe(true);
  });

  it("describes itself without the PIN, and check() round-trips through the token", async () => {
    const info = resolver.describe();
    expect(info).toEqual({
      kind: "pkcs11",
      masterLabel: "pkcs11:vecto-test/vecto-master",
      detail: { library: hsm.library, token: "vecto-test" },
    });
    expect(JSON.stringify(info)).not.toContain(hsm.pin);
    await expect(resolver.check()).resolves.toBeUndefined();
  });

  it("a wrong AAD, a tampered blob or a truncated blob fail as KeyUnwrapError", async () => {
    const wrapped = await resolver.wrap(randomBytes(32), aad);
    const otherAad = new TextEncoder().encode("tenant-2|1");
    await expect(resolver.unwrap(wrapped, otherAad)).rejects.toBeInstanceOf(KeyUnwrapError);
    for (const at of [0, 12, wrapped.blob.length - 1]) {
      const blob = wrapped.blob.slice();
      blob[at] = (blob[at] ?? 0) ^ 1;
      const err = await captureError(() => resolver.unwrap({ ...wrapped, blob }, aad));
      expect(err).toBeInstanceOf(KeyUnwrapError);
      expect(err.message).toContain("pkcs11:vecto-test/vecto-master");
    }
    await expect(resolver.unwrap({ ...wrapped, blob: wrapped.blob.subarray(0, 20) }, aad)).rejects.toBeInstanceOf(
      KeyUnwrapError,
    );
    // A failed tag check must not poison the pool.
    await expect(resolver.check()).resolves.toBeUndefined();
  });

  it("a blob from another master key names both labels; relabelling it does not help", async () => {
    const other = await open({ keyLabel: OTHER });
    const wrapped = await other.wrap(randomBytes(32), aad);
    const err = await captureError(() => resolver.unwrap(wrapped, aad));
    expect(err).toBeInstanceOf(MasterKeyUnavailableError);
    expect(err.message).toContain("pkcs11:vecto-test/other-master");
    expect(err.message).toContain("pkcs11:vecto-test/vecto-master");
    const forged = { ...wrapped, masterLabel: resolver.describe().masterLabel };
    await expect(resolver.unwrap(forged, aad)).rejects.toBeInstanceOf(KeyUnwrapError);
  });

  it("a blob wrapped by the env resolver is refused by label, and the other way round", async () => {
    const dir = tempDir();
    try {
      await generateMasterKeyFile(join(dir.path, "master.key"));
      const env = await EnvKeyResolver.fromFile(join(dir.path, "master.key"));
      const fromEnv = await env.wrap(randomBytes(32), aad);
      expect((await captureError(() => resolver.unwrap(fromEnv, aad))).message).toMatch(
        /wrapped by master key env:[0-9a-f]{16}, but the loaded master key is pkcs11:vecto-test\/vecto-master/,
      );
      const fromHsm = await resolver.wrap(randomBytes(32), aad);
      await expect(env.unwrap(fromHsm, aad)).rejects.toBeInstanceOf(MasterKeyUnavailableError);
    } finally {
      dir.cleanup();
    }
  });

  it("serves many concurrent unwraps through the small session pool", async () => {
    const deks = Array.from({ length: 40 }, () => randomBytes(32));
    const wrapped = await Promise.all(deks.map((d) => resolver.wrap(d, aad)));
    const back = await Promise.all(wrapped.map((w) => resolver.unwrap(w, aad)));
    back.forEach((b, i) => expect(Buffer.from(b).equals(deks[i] as Buffer)).toBe(true));
  });

  it("reopens its sessions (and logs in again) after the token closed them", async () => {
    const wrapped = await resolver.wrap(randomBytes(32), aad);
    const loaded = await loadPkcs11(hsm.library);
    const { slot } = openTokenSession(loaded, { ...cfg(), pin: hsm.pin });
    // Every session of this process on the token ends, and with them the login.
    loaded.lib.C_CloseAllSessions(slot);
    await expect(resolver.unwrap(wrapped, aad)).resolves.toHaveLength(32);
    await expect(resolver.check()).resolves.toBeUndefined();
  });
});

describe("pkcs11 resolver: the master key cannot be read", () => {
  it("CKA_VALUE is refused (CKR_ATTRIBUTE_SENSITIVE) and C_WrapKey of it is refused", async () => {
    const loaded = await loadPkcs11(hsm.library);
    const { api, lib } = loaded;
    const { session } = openTokenSession(loaded, { ...cfg(), pin: hsm.pin });
    try {
      lib.C_FindObjectsInit(session, [
        { type: api.CKA_CLASS, value: api.CKO_SECRET_KEY },
        { type: api.CKA_LABEL, value: MASTER },
      ]);
      const [key] = lib.C_FindObjects(session, 2);
      lib.C_FindObjectsFinal(session);
      if (key === undefined) throw new Error("master key not found");

      const attrs = lib.C_GetAttributeValue(session, key, [
        { type: api.CKA_SENSITIVE },
        { type: api.CKA_EXTRACTABLE },
        { type: api.CKA_NEVER_EXTRACTABLE },
        { type: api.CKA_TOKEN },
      ]);
      expect(attrs.map((a) => a.value[0])).toEqual([1, 0, 1, 1]);

      const read = await captureError(async () => lib.C_GetAttributeValue(session, key, [{ type: api.CKA_VALUE }]));
      expect((read as Error & { code: number }).code).toBe(api.CKR_ATTRIBUTE_SENSITIVE);

      const kek = lib.C_GenerateKey(session, { mechanism: api.CKM_AES_KEY_GEN }, [
        { type: api.CKA_CLASS, value: api.CKO_SECRET_KEY },
        { type: api.CKA_KEY_TYPE, value: api.CKK_AES },
        { type: api.CKA_VALUE_LEN, value: 32 },
        { type: api.CKA_TOKEN, value: false },
        { type: api.CKA_WRAP, value: true },
      ]);
      const wrap = await captureError(async () =>
        lib.C_WrapKey(session, { mechanism: api.CKM_AES_KEY_WRAP }, kek, key, Buffer.alloc(64)),
      );
      expect((wrap as Error & { code: number }).code).toBe(api.CKR_KEY_UNEXTRACTABLE);
    } finally {
      lib.C_CloseSession(session);
    }
  });
});

describe("pkcs11 resolver: clear errors", () => {
  it("an unknown token label names the label and the tokens that are there", async () => {
    const err = await captureError(() => open({ tokenLabel: "no-such-token" }));
    expect(err).toBeInstanceOf(HsmError);
    expect(err.message).toBe(
      `PKCS#11 token "no-such-token" not found via ${hsm.library} (tokens present: "vecto-pin", "vecto-test")`,
    );
  });

  it("a missing library, or a file that is not one, is named", async () => {
    const missing = await captureError(() => open({ library: "/nonexistent/libnope.so" }));
    expect(missing).toBeInstanceOf(HsmError);
    expect(missing.message).toBe(
      "PKCS#11 library /nonexistent/libnope.so does not exist or is not readable (VECTO_PKCS11_LIB)",
    );
    const notALibrary = await captureError(() => open({ library: hsm.conf }));
    expect(notALibrary.message).toMatch(new RegExp(`^cannot load PKCS#11 library ${hsm.conf}: `));
    expect(notALibrary.message).not.toContain("\n");
  });

  it("an unknown key label points at init-hsm", async () => {
    const err = await captureError(() => open({ keyLabel: "nope" }));
    expect(err.message).toBe(
      'no PKCS#11 secret key "nope" in token "vecto-test"; create it with "vecto keys init-hsm"',
    );
  });

  it("a PIN file readable by others, or missing, is refused before any login", async () => {
    const dir = tempDir();
    try {
      const loose = join(dir.path, "pin");
      writeFileSync(loose, `${hsm.pin}\n`);
      chmodSync(loose, 0o644);
      const err = await captureError(() => open({ pinFile: loose }));
      expect(err).toBeInstanceOf(KeyFileError);
      expect(err.message).toBe(
        `PKCS#11 PIN file ${loose} has mode 0644; it must not be readable by group or others (chmod 600)`,
      );
      await expect(open({ pinFile: join(dir.path, "absent") })).rejects.toThrow(
        /cannot read PKCS#11 PIN file .*absent: ENOENT/,
      );
    } finally {
      dir.cleanup();
    }
  });

  it("after the token refused the PIN, the resolver stops logging in (a real token would lock the PIN)", async () => {
    // A token of its own (made in beforeAll): login state is per process and token, and the main token stays logged in.
    await generateHsmMasterKey(cfg({ tokenLabel: "vecto-pin" }));
    const r = await open({ tokenLabel: "vecto-pin" });
    const loaded = await loadPkcs11(hsm.library);
    const setPin = (from: string, to: string): void => {
      const { slot, session } = openTokenSession(loaded, { ...cfg({ tokenLabel: "vecto-pin" }), pin: from }, true);
      loaded.lib.C_SetPIN(session, from, to);
      loaded.lib.C_CloseAllSessions(slot); // ends the login: the next call must log in again
    };
    setPin(hsm.pin, "4321");
    const refused = await captureError(() => r.check());
    expect(refused).toBeInstanceOf(HsmError);
    expect(refused.message).toBe(
      `PKCS#11 login to token "vecto-pin" failed: wrong PIN in ${hsm.pinFile} (CKR_PIN_INCORRECT)`,
    );
    setPin("4321", hsm.pin);
    expect((await captureError(() => r.check())).message).toBe(refused.message);
    const restarted = await open({ tokenLabel: "vecto-pin" });
    await expect(restarted.check()).resolves.toBeUndefined();
  });

  it("init-hsm refuses a second key with the same label", async () => {
    const err = await captureError(() => generateHsmMasterKey(cfg()));
    expect(err.message).toBe(
      'a secret key labelled "vecto-master" already exists in token "vecto-test"; refusing to create another',
    );
  });
});

describe("pkcs11 resolver in the services", () => {
  it("openServices with VECTO_KEY_RESOLVER=pkcs11: a tenant key is created, used, and unwrapped again by a fresh service", async () => {
    const dir = tempDir();
    const dataDir = join(dir.path, "data");
    mkdirSync(dataDir, { mode: 0o700 });
    const config = loadConfig({ VECTO_ENV_FILE: "/dev/null", VECTO_DATA_DIR: dataDir, ...hsm.env(MASTER) }, dir.path);
    const services = await openServices(config, createLogger("silent"));
    try {
      expect(services.resolver.describe().kind).toBe("pkcs11");
      await services.crypto.createTenantKey("acme");
      const ref = { table: "nodes", column: "title", rowId: "n1" };
      const sealed = await services.crypto.encryptField("acme", ref, "launch plan");
      expect(services.db.keystore.listTenantKeys("acme").flatMap((k) => k.wraps.map((w) => w.masterLabel))).toEqual([
        "pkcs11:vecto-test/vecto-master",
      ]);
      // No cached DEK: the stored wrapped DEK has to be unwrapped by the token.
      const fresh = new CryptoService(services.resolver, services.db.keystore);
      expect(await fresh.decryptField("acme", ref, sealed)).toBe("launch plan");
    } finally {
      services.close();
      dir.cleanup();
    }
  });
});

describe("migrating the master key from a file to the HSM", () => {
  it("is a rotation: afterwards the HSM key alone reads everything, and the file key is retired", async () => {
    const dir = tempDir();
    const dataDir = join(dir.path, "data");
    mkdirSync(dataDir, { mode: 0o700 });
    const keyFile = join(dir.path, "master.key");
    const { masterLabel: fileLabel } = await generateMasterKeyFile(keyFile);
    const base = { VECTO_ENV_FILE: "/dev/null", VECTO_DATA_DIR: dataDir, ...hsm.env("migrated-master") };
    const actor = { type: "system" as const, id: "test" };
    const ref = { table: "nodes", column: "title", rowId: "n1" };
    try {
      // 1. Running on the key file, with the PKCS#11 settings present for the move.
      const onFile = await openServices(
        loadConfig({ ...base, VECTO_KEY_RESOLVER: "env", VECTO_MASTER_KEY_FILE: keyFile }, dir.path),
        createLogger("silent"),
      );
      let sealed: Uint8Array;
      try {
        expect(onFile.resolver.currentLabel).toBe(fileLabel);
        await onFile.crypto.createTenantKey("acme");
        sealed = await onFile.crypto.encryptField("acme", ref, "migrate me");
        const rotated = await rotateMaster(
          onFile.keyAdmin,
          await onFile.keyAdmin.openMaster({ kind: "pkcs11", keyLabel: "migrated-master" }),
          actor,
        );
        expect(rotated).toMatchObject({
          masterLabel: "pkcs11:vecto-test/migrated-master",
          previousLabel: fileLabel,
          masterVersion: 2,
        });
      } finally {
        onFile.close();
      }
      // 2. Restarted on the HSM key, the file key listed as previous: retire it.
      const both = await openServices(
        loadConfig({ ...base, VECTO_PREVIOUS_MASTER_KEYS: `file:${keyFile}` }, dir.path),
        createLogger("silent"),
      );
      try {
        expect(both.resolver.labels()).toEqual(["pkcs11:vecto-test/migrated-master", fileLabel]);
        // The installation root secret and acme's data key.
        expect((await retireMaster(both.keyAdmin, fileLabel, actor)).wrapsRemoved).toBe(2);
      } finally {
        both.close();
      }
      // 3. The HSM alone: every key opens; the file key opens nothing.
      const onHsm = await openServices(loadConfig(base, dir.path), createLogger("silent"));
      try {
        expect(await new CryptoService(onHsm.resolver, onHsm.db.keystore).decryptField("acme", ref, sealed)).toBe(
          "migrate me",
        );
        expect(onHsm.db.keystore.listTenantKeys("acme").flatMap((k) => k.wraps.map((w) => w.masterLabel))).toEqual([
          "pkcs11:vecto-test/migrated-master",
        ]);
        await expect(
          new CryptoService(await EnvKeyResolver.fromFile(keyFile), onHsm.db.keystore).decryptField(
            "acme",
            ref,
            sealed,
          ),
        ).rejects.toThrow(MasterKeyUnavailableError);
      } finally {
        onHsm.close();
      }
    } finally {
      dir.cleanup();
    }
  });
});

describe("the audit anchor in the token (a data object beside the master key)", () => {
  const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
  const text = (values: Uint8Array[]): string[] => values.map((v) => new TextDecoder().decode(v)).sort();

  it("is a private, unmodifiable CKO_DATA token object, replaced rather than edited; the env resolver has no such store", async () => {
    const records = resolver.tokenRecords;
    const name = "vecto-audit-anchor:test/records";
    expect(await records.read(name)).toEqual([]);
    await records.replace(name, bytes("one"), () => true);
    await records.replace(name, bytes("two"), (older) => new TextDecoder().decode(older) === "one");
    expect(text(await records.read(name))).toEqual(["two"]);
    // What supersedes() keeps stays (a crash between create and destroy leaves both, never neither).
    await records.replace(name, bytes("three"), () => false);
    expect(text(await records.read(name))).toEqual(["three", "two"]);

    const loaded = await loadPkcs11(hsm.library);
    const { api, lib } = loaded;
    const { session } = openTokenSession(loaded, { ...cfg(), pin: hsm.pin }, true);
    try {
      lib.C_FindObjectsInit(session, [{ type: api.CKA_LABEL, value: name }]);
      const found = lib.C_FindObjects(session, 4);
      lib.C_FindObjectsFinal(session);
      expect(found).toHaveLength(2);
      for (const object of found) {
        const attrs = lib.C_GetAttributeValue(session, object, [
          { type: api.CKA_CLASS },
          { type: api.CKA_TOKEN },
          { type: api.CKA_PRIVATE },
          { type: api.CKA_MODIFIABLE },
        ]);
        expect(attrs.map((a) => a.value.readUIntLE(0, a.value.length === 1 ? 1 : 4))).toEqual([api.CKO_DATA, 1, 1, 0]);
        const edit = await captureError(async () =>
          lib.C_SetAttributeValue(session, object, [{ type: api.CKA_VALUE, value: Buffer.from("rolled back") }]),
        );
        // SoftHSM2 answers 0x1B, CKR_ACTION_PROHIBITED of PKCS#11 3.0 (pkcs11js knows only 2.40 names).
        expect(edit.message).toMatch(/^(CKR_ACTION_PROHIBITED|CKR_VENDOR_DEFINED:27|CKR_ATTRIBUTE_READ_ONLY)$/);
      }
      expect(text(await records.read(name))).toEqual(["three", "two"]);
    } finally {
      lib.C_CloseSession(session);
    }
    const dir = tempDir();
    try {
      await generateMasterKeyFile(join(dir.path, "master.key"));
      const env: KeyResolver = await EnvKeyResolver.fromFile(join(dir.path, "master.key"));
      expect(env.tokenRecords).toBeUndefined();
    } finally {
      dir.cleanup();
    }
  });

  it("vecto audit verify names a rollback of the whole data directory (database and anchor files) that the token's anchor is ahead of", () => {
    const dir = tempDir();
    const cwd = dir.path;
    const data = join(cwd, "data");
    const env = hsm.env("anchor-master", { VECTO_DATA_DIR: data, VECTO_LOG_LEVEL: "warn" });
    const other = hsm.env("anchor-other", { VECTO_DATA_DIR: join(cwd, "other-data"), VECTO_LOG_LEVEL: "warn" });
    const cli = (args: string[], e = env): ReturnType<typeof runCli> => runCli(args, { cwd, env: e });
    /** `audit export` records one event in the installation log each time. */
    const grow = (n: number, e = env): void => {
      for (let i = 0; i < n; i++)
        expect(cli(["audit", "export", "--out", join(cwd, "export.jsonl")], e).status).toBe(0);
    };
    const checkpoint = (e = env): number => {
      const made = cli(["audit", "checkpoint", "--json"], e);
      expect(made.status, made.stderr).toBe(0);
      return (JSON.parse(made.stdout) as { checkpoints: { size: number }[] }).checkpoints[0]?.size ?? 0;
    };
    const verify = (
      e = env,
    ): {
      status: number | null;
      report: { ok: boolean; tokenAnchor?: { size: number }; firstBad?: { reason: string } };
    } => {
      const result = cli(["audit", "verify", "--log", "platform", "--json"], e);
      return { status: result.status, report: (JSON.parse(result.stdout) as { logs: [{ ok: boolean }] }).logs[0] };
    };
    try {
      const [old = 0] = [env, other].map((e) => {
        expect(cli(["init"], e).status).toBe(0);
        expect(cli(["keys", "init-hsm"], e).status).toBe(0);
        grow(2, e);
        return checkpoint(e);
      });
      expect(old).toBeGreaterThan(0);
      expect(verify()).toEqual({
        status: 0,
        report: expect.objectContaining({
          ok: true,
          tokenAnchor: { at: "the anchor in the HSM (PKCS#11 token)", size: old },
        }),
      });
      cpSync(data, join(cwd, "copy"), { recursive: true });
      grow(3);
      const size = checkpoint();
      expect(size).toBeGreaterThan(old);
      expect(verify()).toMatchObject({ status: 0, report: { ok: true, tokenAnchor: { size } } });

      // The whole data directory put back: database, keystore and anchor files agree with each other, not with the token.
      rmSync(data, { recursive: true });
      cpSync(join(cwd, "copy"), data, { recursive: true });
      const rolledBack = verify();
      expect(rolledBack.status).toBe(1);
      expect(rolledBack.report.firstBad?.reason).toBe(
        `the log has ${old} events, the anchor in the HSM (PKCS#11 token) covers ${size} > ${old}: events ${old}..${size - 1} were removed (cut from the end, or an older copy of the database was put back)`,
      );
      // Checkpoints of the restored log do not move the token's anchor back.
      grow(1);
      checkpoint();
      expect(verify().report.firstBad?.reason).toContain(`the anchor in the HSM (PKCS#11 token) covers ${size} >`);
      // Nor forward, once the restored log grew past it with another history: that is named as a fork.
      grow(size - old);
      expect(checkpoint()).toBeGreaterThan(size);
      expect(verify().report.firstBad?.reason).toBe(
        `the log at size ${size} does not match the anchor in the HSM (PKCS#11 token): a rollback or fork (the log was replaced by another history up to event ${size - 1})`,
      );

      // Another installation on the same token keeps its own anchor, untouched.
      expect(verify(other)).toMatchObject({
        status: 0,
        report: { ok: true, tokenAnchor: { size: expect.any(Number) } },
      });
    } finally {
      dir.cleanup();
    }
  }, 120_000);
});

describe("vecto with VECTO_KEY_RESOLVER=pkcs11 (built bundle)", () => {
  it("a wrong PIN stops serve with one clear line that does not contain the PIN", () => {
    const dir = tempDir();
    try {
      const pinFile = join(dir.path, "wrong-pin");
      writeFileSync(pinFile, "987654\n", { mode: 0o600 });
      const env = hsm.env(MASTER, { VECTO_DATA_DIR: join(dir.path, "data"), VECTO_PKCS11_PIN_FILE: pinFile });
      const result = runCli(["serve"], { cwd: dir.path, env });
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(
        `vecto: PKCS#11 login to token "vecto-test" failed: wrong PIN in ${pinFile} (CKR_PIN_INCORRECT)\n`,
      );
      expect(result.stderr + result.stdout).not.toContain("987654");
    } finally {
      dir.cleanup();
    }
  });

  it("init, init-hsm, serve: /readyz is 200, setup/login/tenant/project work, and again after a restart", async () => {
    const dir = tempDir();
    const port = await freePort();
    const env = hsm.env("server-master", { VECTO_DATA_DIR: join(dir.path, "data"), VECTO_LISTEN: `127.0.0.1:${port}` });
    try {
      expect(runCli(["init"], { cwd: dir.path, env }).status).toBe(0);
      const created = runCli(["keys", "init-hsm"], { cwd: dir.path, env });
      expect(created.stdout).toContain("pkcs11:vecto-test/server-master");
      const again = runCli(["keys", "init-hsm"], { cwd: dir.path, env });
      expect(again.status).toBe(1);
      expect(again.stderr).toBe(
        'vecto: a secret key labelled "server-master" already exists in token "vecto-test"; refusing to create another\n',
      );
      const { token } = JSON.parse(runCli(["setup-token", "--json"], { cwd: dir.path, env }).stdout) as {
        token: string;
      };

      const projectId = await withServer(dir.path, env, async (call) => {
        const ready = await call("GET", "/readyz");
        expect(ready.status).toBe(200);
        expect(JSON.parse(ready.body)).toEqual({
          status: "ready",
          checks: { database: "ok", storage: "ok", keys: "ok" },
          license: "unlicensed",
          warnings: [],
        });
        await createAcme(call, await setupRoot(call, token));
        const admin = await loginToken(call, "acme", "admin@acme.test");
        const project = await call("POST", "/api/projects", { token: admin, body: { name: "Apollo" } });
        expect(project.status).toBe(201);
        return (JSON.parse(project.body) as { project: { id: string } }).project.id;
      });

      // A new process has no cached DEKs: reading the project unwraps them in the token again.
      await withServer(dir.path, env, async (call) => {
        const admin = await loginToken(call, "acme", "admin@acme.test");
        const got = await call("GET", `/api/projects/${projectId}`, { token: admin });
        expect(got.status).toBe(200);
        expect((JSON.parse(got.body) as { project: { name: string } }).project.name).toBe("Apollo");
      });
    } finally {
      dir.cleanup();
    }
  }, 120_000);
});

describe("vecto serve when the token goes away", () => {
  it("fails closed while the token is gone (503 with the reason, nothing written) and recovers by itself when it returns", async () => {
    const own = createSoftHsmToken({ tokenLabel: "vecto-removable" });
    const dir = tempDir();
    const port = await freePort();
    const env = own.env("removable-master", {
      VECTO_DATA_DIR: join(dir.path, "data"),
      VECTO_LISTEN: `127.0.0.1:${port}`,
    });
    try {
      expect(runCli(["init"], { cwd: dir.path, env }).status).toBe(0);
      expect(runCli(["keys", "init-hsm"], { cwd: dir.path, env }).status).toBe(0);
      const { token } = JSON.parse(runCli(["setup-token", "--json"], { cwd: dir.path, env }).stdout) as {
        token: string;
      };
      await withServer(
        dir.path,
        env,
        async (call) => {
          expect((await call("GET", "/readyz")).status).toBe(200);
          const root = await setupRoot(call, token);
          const tenantBody = (slug: string) => ({
            slug,
            name: slug,
            admin: { email: `admin@${slug}.test`, name: "Admin", password: STRONG_PASSWORD },
          });

          // SoftHSM's equivalent of pulling the token: its files disappear.
          renameSync(join(own.dir, "tokens"), join(own.dir, "tokens-pulled"));
          const gone = await call("GET", "/readyz");
          expect(gone.status).toBe(503);
          const keys = (JSON.parse(gone.body) as { checks: { keys: string } }).checks.keys;
          expect(keys).toMatch(/^PKCS#11 token "vecto-removable" (not found via|is unavailable)/);
          expect(keys).not.toContain(own.pin);
          expect((await call("GET", "/healthz")).status).toBe(200);
          // A new tenant needs a data key wrapped in the token: refused with 503, and no tenant appears.
          const refused = await call("POST", "/api/tenants", { token: root, body: tenantBody("during-outage") });
          expect(refused.status).toBe(503);
          expect(JSON.parse(refused.body)).toMatchObject({ status: 503 });
          expect(JSON.parse(refused.body).detail).not.toContain(own.pin);

          // The token comes back: the service picks it up on its own, no restart.
          renameSync(join(own.dir, "tokens-pulled"), join(own.dir, "tokens"));
          let ready = await call("GET", "/readyz");
          for (let i = 0; i < 40 && ready.status !== 200; i++) {
            await new Promise((r) => setTimeout(r, 250));
            ready = await call("GET", "/readyz");
          }
          expect(ready.status).toBe(200);
          expect((await call("POST", "/api/tenants", { token: root, body: tenantBody("after-outage") })).status).toBe(
            201,
          );
          const list = JSON.parse((await call("GET", "/api/tenants", { token: root })).body) as {
            tenants: { slug: string }[];
          };
          expect(list.tenants.map((t) => t.slug)).toEqual(["after-outage"]);
        },
        "pkcs11:vecto-removable/removable-master",
      );
    } finally {
      dir.cleanup();
      own.cleanup();
    }
  }, 60_000);
});

async function withServer<T>(
  cwd: string,
  env: Record<string, string>,
  run: (call: Call) => Promise<T>,
  masterLabel = "pkcs11:vecto-test/server-master",
): Promise<T> {
  const server = await startServe(cwd, env);
  const call = serveClient(Number(env.VECTO_LISTEN?.split(":")[1]));
  try {
    expect(server.stdout()).toContain(`"masterLabel":"${masterLabel}"`);
    return await run(call);
  } finally {
    server.child.kill("SIGTERM");
    await waitForExit(server.child);
  }
}
