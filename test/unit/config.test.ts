import { readFileSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, parseEnvFile, sizeThreadPool, threadPoolSize } from "../../src/config.js";
import { ROOT, testDir } from "../helpers.js";

const cwd = "/srv/vecto-test";
const base = { VECTO_ENV_FILE: "/dev/null" };

function failure(env: Record<string, string>): string {
  try {
    loadConfig({ ...base, ...env }, cwd);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("expected loadConfig to fail");
}

describe("config", () => {
  it("runs on the embedded default with nothing set", () => {
    const config = loadConfig(base, cwd);
    expect(config.dataDir).toBe("/srv/vecto-test/data");
    expect(config.databaseFile).toBe("/srv/vecto-test/data/vecto.db");
    expect(config.listen).toEqual({ host: "127.0.0.1", port: 8443 });
    expect(config.redirectListen).toBeNull();
    expect(config.keyResolver).toBe("env");
    expect(config.masterKeyFile).toBe("/srv/vecto-test/data/master.key");
    expect(config.devMasterKey).toBe(true);
    expect(config.tls).toEqual({
      certFile: "/srv/vecto-test/data/tls/cert.pem",
      keyFile: "/srv/vecto-test/data/tls/key.pem",
      selfSigned: true,
      clientCaFile: null,
      names: [],
    });
    expect(config.airgapped).toBe(true);
    expect(config.ollamaUrl).toBe("http://127.0.0.1:11434");
  });

  it("takes a configured master key and certificate as production settings", () => {
    const config = loadConfig(
      {
        ...base,
        VECTO_MASTER_KEY_FILE: "keys/master",
        VECTO_TLS_CERT: "/etc/pki/c.pem",
        VECTO_TLS_KEY: "/etc/pki/k.pem",
        VECTO_TLS_CLIENT_CA: "pki/clients.pem",
      },
      cwd,
    );
    expect(config.masterKeyFile).toBe("/srv/vecto-test/keys/master");
    expect(config.devMasterKey).toBe(false);
    expect(config.tls.selfSigned).toBe(false);
    expect(config.tls.clientCaFile).toBe("/srv/vecto-test/pki/clients.pem");
  });

  it("takes earlier master keys for unwrapping, files and HSM labels, and a data-key encryption limit", () => {
    const hsm = {
      VECTO_PKCS11_LIB: "/usr/lib/softhsm/libsofthsm2.so",
      VECTO_PKCS11_TOKEN_LABEL: "vecto",
      VECTO_PKCS11_PIN_FILE: "/etc/vecto/pin",
      VECTO_PKCS11_KEY_LABEL: "master-2",
    };
    const config = loadConfig(
      {
        ...base,
        ...hsm,
        VECTO_PREVIOUS_MASTER_KEYS: "file:old.key, pkcs11:master-1",
        VECTO_DEK_MAX_ENCRYPTIONS: "1000000",
      },
      cwd,
    );
    expect(config.keyResolver).toBe("env");
    expect(config.pkcs11?.keyLabel).toBe("master-2");
    expect(config.previousMasterKeys).toEqual([
      { kind: "env", file: "/srv/vecto-test/old.key" },
      { kind: "pkcs11", keyLabel: "master-1" },
    ]);
    expect(config.dekMaxEncryptions).toBe(1_000_000);
    expect(loadConfig(base, cwd)).toMatchObject({ previousMasterKeys: [], pkcs11: null, dekMaxEncryptions: 2 ** 30 });
  });

  it("reads the master key from the systemd credentials directory", () => {
    const config = loadConfig({ ...base, CREDENTIALS_DIRECTORY: "/run/credentials/vecto.service" }, cwd);
    expect(config.masterKeyFile).toBe("/run/credentials/vecto.service/master-key");
    expect(config.devMasterKey).toBe(false);
  });

  it.each([
    [{ VECTO_LISTEN: "8443" }, /^VECTO_LISTEN: expected host:port/],
    [{ VECTO_LISTEN: "127.0.0.1:99999" }, /^VECTO_LISTEN: port must be 0-65535/],
    [{ VECTO_HTTP_LISTEN: "nope" }, /^VECTO_HTTP_LISTEN: /],
    [{ VECTO_KEY_RESOLVER: "kms" }, /^VECTO_KEY_RESOLVER: expected env or pkcs11/],
    [{ VECTO_AIRGAPPED: "maybe" }, /^VECTO_AIRGAPPED: expected true or false/],
    [{ VECTO_OLLAMA_URL: "ftp://x" }, /^VECTO_OLLAMA_URL: /],
    [{ VECTO_LOG_LEVEL: "loud" }, /^VECTO_LOG_LEVEL: /],
    [{ VECTO_BODY_LIMIT_BYTES: "-1" }, /^VECTO_BODY_LIMIT_BYTES: expected a whole number/],
    [{ VECTO_TLS_CERT: "/c.pem" }, /^VECTO_TLS_KEY: set VECTO_TLS_CERT and VECTO_TLS_KEY together/],
    [{ VECTO_KEY_RESOLVER: "pkcs11" }, /^VECTO_PKCS11_PIN_FILE: required when VECTO_KEY_RESOLVER=pkcs11/],
    [{ VECTO_KEY_RESOLVER: "pkcs11", VECTO_PKCS11_PIN_FILE: "/p" }, /^VECTO_PKCS11_LIB: required/],
    [{ VECTO_EGRESS_ALLOW: "api.example.com" }, /^VECTO_EGRESS_ALLOW: expected host:port/],
    [
      { VECTO_PREVIOUS_MASTER_KEYS: "/etc/vecto/old.key" },
      /^VECTO_PREVIOUS_MASTER_KEYS: expected file:PATH or pkcs11:KEY_LABEL/,
    ],
    [
      { VECTO_PREVIOUS_MASTER_KEYS: "pkcs11:old-master" },
      /^VECTO_PREVIOUS_MASTER_KEYS: a pkcs11: entry needs the VECTO_PKCS11_\* settings/,
    ],
    [{ VECTO_DEK_MAX_ENCRYPTIONS: "4294967296" }, /^VECTO_DEK_MAX_ENCRYPTIONS: must be at most 2147483648/],
    [{ VECTO_DEK_MAX_ENCRYPTIONS: "0" }, /^VECTO_DEK_MAX_ENCRYPTIONS: must be greater than 0/],
  ])("refuses %j with one line naming the variable", (env, expected) => {
    const message = failure(env);
    expect(message).toMatch(expected);
    expect(message).not.toContain("\n");
  });

  it("takes values from the env file, with the process environment winning", () => {
    const file = join(testDir(), "vecto.env");
    writeFileSync(file, '# comment\nVECTO_LISTEN=0.0.0.0:9443\nVECTO_DATA_DIR="/var/lib/vecto"\n');
    const config = loadConfig({ VECTO_ENV_FILE: file, VECTO_LISTEN: "127.0.0.1:7443" }, cwd);
    expect(config.listen).toEqual({ host: "127.0.0.1", port: 7443 });
    expect(config.dataDir).toBe("/var/lib/vecto");
  });

  it("names the env file and line of a malformed entry", () => {
    expect(() => parseEnvFile("VECTO_LISTEN=1.2.3.4:1\nthis is not an assignment\n", "/etc/vecto/vecto.env")).toThrow(
      "/etc/vecto/vecto.env:2: expected KEY=VALUE",
    );
  });

  it("never echoes the password of a URL it refuses", () => {
    expect(() => loadConfig({ ...base, VECTO_OLLAMA_URL: "ftp://ops:hunter2@127.0.0.1:11434" }, cwd)).toThrow(
      /\(got "ftp:\/\/\*\*\*@127\.0\.0\.1:11434\/"\)$/,
    );
  });

  it("refuses an explicitly named env file that does not exist", () => {
    expect(failure({ VECTO_ENV_FILE: "/nonexistent/vecto.env" })).toBe(
      "VECTO_ENV_FILE: /nonexistent/vecto.env does not exist",
    );
  });
});

describe("config: backups", () => {
  it("defaults to a nightly backup into the data dir, keeping 7", () => {
    expect(loadConfig(base, cwd).backup).toEqual({
      dir: "/srv/vecto-test/data/backups",
      schedule: "0 3 * * *",
      keep: 7,
    });
    expect(loadConfig({ ...base, VECTO_DATA_DIR: "/var/lib/vecto" }, cwd).backup.dir).toBe("/var/lib/vecto/backups");
  });

  it("takes a directory (relative to the working directory), a schedule or off, and a count", () => {
    const config = loadConfig(
      { ...base, VECTO_BACKUP_DIR: "bk", VECTO_BACKUP_SCHEDULE: "30 1 * * 0", VECTO_BACKUP_KEEP: "14" },
      cwd,
    );
    expect(config.backup).toEqual({ dir: "/srv/vecto-test/bk", schedule: "30 1 * * 0", keep: 14 });
    expect(loadConfig({ ...base, VECTO_BACKUP_SCHEDULE: "off" }, cwd).backup.schedule).toBeNull();
  });

  it("refuses a schedule that is not a five-field cron expression, and a count below 1, naming the variable", () => {
    expect(failure({ VECTO_BACKUP_SCHEDULE: "daily" })).toBe(
      'VECTO_BACKUP_SCHEDULE: expected a cron expression (minute hour day month weekday) or off (got "daily")',
    );
    expect(failure({ VECTO_BACKUP_SCHEDULE: "*/5 * * * * *" })).toMatch(
      /^VECTO_BACKUP_SCHEDULE: expected a cron expression/,
    );
    expect(failure({ VECTO_BACKUP_SCHEDULE: "61 * * * *" })).toMatch(
      /^VECTO_BACKUP_SCHEDULE: expected a cron expression/,
    );
    expect(failure({ VECTO_BACKUP_KEEP: "0" })).toBe('VECTO_BACKUP_KEEP: must be greater than 0 (got "0")');
    expect(failure({ VECTO_BACKUP_KEEP: "seven" })).toMatch(/^VECTO_BACKUP_KEEP: expected a whole number/);
  });
});

describe("config: audit anchors", () => {
  it("defaults to a directory in the data dir and takes another, relative to the working directory", () => {
    expect(loadConfig(base, cwd).auditAnchorDir).toBe("/srv/vecto-test/data/audit-anchors");
    expect(loadConfig({ ...base, VECTO_AUDIT_ANCHOR_DIR: "/mnt/worm/vecto" }, cwd).auditAnchorDir).toBe(
      "/mnt/worm/vecto",
    );
    expect(loadConfig({ ...base, VECTO_AUDIT_ANCHOR_DIR: "anchors" }, cwd).auditAnchorDir).toBe(
      "/srv/vecto-test/anchors",
    );
  });

  it("refuses the data directory itself, naming the variable", () => {
    expect(failure({ VECTO_AUDIT_ANCHOR_DIR: "data/" })).toBe(
      "VECTO_AUDIT_ANCHOR_DIR: must be a directory of its own, not the data directory (default: <data>/audit-anchors)",
    );
  });
});

describe("config: trusted proxies and rate limits", () => {
  it("trusts no proxy and limits every credential and address by default", () => {
    const config = loadConfig(base, cwd);
    expect(config.trustedProxies).toEqual([]);
    expect(config.rateLimit).toEqual({ perCredential: 600, perAddress: 1200 });
  });

  it("takes IPv4 and IPv6 addresses and CIDR ranges, and limits per minute or off", () => {
    const config = loadConfig(
      {
        ...base,
        VECTO_TRUSTED_PROXIES: " 10.0.0.0/8, 192.0.2.7 ,fd00::/8,[::1]",
        VECTO_RATE_LIMIT_PER_CREDENTIAL: "off",
        VECTO_RATE_LIMIT_PER_ADDRESS: "60",
      },
      cwd,
    );
    expect(config.trustedProxies).toEqual([
      { network: "10.0.0.0", prefix: 8, family: "ipv4" },
      { network: "192.0.2.7", prefix: 32, family: "ipv4" },
      { network: "fd00::", prefix: 8, family: "ipv6" },
      { network: "::1", prefix: 128, family: "ipv6" },
    ]);
    expect(config.rateLimit).toEqual({ perCredential: null, perAddress: 60 });
  });

  it("refuses a malformed range or limit in one line naming the variable", () => {
    const proxies =
      /^VECTO_TRUSTED_PROXIES: expected IPv4 or IPv6 addresses or CIDR ranges separated by commas \(got "/;
    for (const bad of ["10.0.0.0/33", "fd00::/129", "proxy.example", "10.0.0.0/8/1", "10.0.0.0/", "300.1.1.1"])
      expect(failure({ VECTO_TRUSTED_PROXIES: bad }), bad).toMatch(proxies);
    expect(failure({ VECTO_RATE_LIMIT_PER_ADDRESS: "0" })).toMatch(/^VECTO_RATE_LIMIT_PER_ADDRESS: /);
    expect(failure({ VECTO_RATE_LIMIT_PER_CREDENTIAL: "lots" })).toBe(
      'VECTO_RATE_LIMIT_PER_CREDENTIAL: expected requests per minute (a whole number above 0) or off (got "lots")',
    );
  });

  it("acknowledges writes once on disk unless the operator chooses normal; refuses anything else", () => {
    expect(loadConfig(base, cwd).durability).toBe("full");
    expect(loadConfig({ ...base, VECTO_SQLITE_SYNCHRONOUS: "normal" }, cwd).durability).toBe("normal");
    expect(failure({ VECTO_SQLITE_SYNCHRONOUS: "off" })).toMatch(/^VECTO_SQLITE_SYNCHRONOUS: expected full or normal/);
  });

  it("takes extra certificate names: DNS names lower-cased, IPv4 and bare IPv6 addresses", () => {
    const config = loadConfig(
      { ...base, VECTO_TLS_NAMES: " Vecto.Example.internal, 192.0.2.10 ,2001:DB8::10,, " },
      cwd,
    );
    expect(config.tls.names).toEqual(["vecto.example.internal", "192.0.2.10", "2001:db8::10"]);
  });

  it("refuses a certificate name that is neither a DNS name nor an IP address, and a bracketed IPv6 address", () => {
    expect(failure({ VECTO_TLS_NAMES: "vecto.example,[2001:db8::10]" })).toBe(
      'VECTO_TLS_NAMES: write an IPv6 address without brackets (got "[2001:db8::10]")',
    );
    for (const bad of [
      "https://vecto.example",
      "vecto.example:8443",
      "under_score.example",
      "-lead.example",
      "300.1.1.1.1.",
      "a..b",
    ]) {
      expect(failure({ VECTO_TLS_NAMES: bad }), bad).toBe(
        `VECTO_TLS_NAMES: expected DNS names or IP addresses separated by commas (got "${bad}")`,
      );
    }
  });

  it("reads UV_THREADPOOL_SIZE the way libuv does: 4 when unset, 0 as 1, at most 1024", () => {
    const cases: [string | undefined, number][] = [
      [undefined, 4],
      ["8", 8],
      [" 12", 12],
      ["0", 1],
      ["many", 1],
      ["5000", 1024],
      ["-3", 1024],
    ];
    for (const [value, size] of cases) expect(threadPoolSize({ UV_THREADPOOL_SIZE: value }), String(value)).toBe(size);
  });

  it("sizes the thread pool to the cores plus one, at least 4, unless the operator set it", () => {
    const unset: Record<string, string | undefined> = {};
    expect(sizeThreadPool(unset)).toBe(Math.max(4, availableParallelism() + 1));
    expect(unset.UV_THREADPOOL_SIZE).toBe(String(Math.max(4, availableParallelism() + 1)));
    const operators: Record<string, string | undefined> = { UV_THREADPOOL_SIZE: "3" };
    expect(sizeThreadPool(operators)).toBe(3);
    expect(operators.UV_THREADPOOL_SIZE).toBe("3");
  });

  it("sizes the pool in src/main.ts right after the Node version check, before any other module", () => {
    const imports = readFileSync(join(ROOT, "src", "main.ts"), "utf8").match(/^import .*$/gm) ?? [];
    expect(imports.slice(0, 2)).toEqual(['import "./require-node.js";', 'import "./thread-pool.js";']);
  });

  it("keeps argon2 below the thread pool: one hash per core but one by default, a setting below the pool", () => {
    expect(loadConfig({ ...base, UV_THREADPOOL_SIZE: "64" }, cwd).argon2Concurrency).toBe(
      Math.max(1, availableParallelism() - 1),
    );
    expect(loadConfig({ ...base, UV_THREADPOOL_SIZE: "2" }, cwd).argon2Concurrency).toBe(1);
    expect(loadConfig({ ...base, UV_THREADPOOL_SIZE: "8", VECTO_ARGON2_CONCURRENCY: "7" }, cwd).argon2Concurrency).toBe(
      7,
    );
    expect(failure({ UV_THREADPOOL_SIZE: "8", VECTO_ARGON2_CONCURRENCY: "8" })).toBe(
      'VECTO_ARGON2_CONCURRENCY: must be below the thread pool size, 8 (UV_THREADPOOL_SIZE) (got "8")',
    );
    expect(failure({ VECTO_ARGON2_CONCURRENCY: "0" })).toMatch(/^VECTO_ARGON2_CONCURRENCY: must be greater than 0/);
    expect(failure({ UV_THREADPOOL_SIZE: "1" })).toBe(
      "UV_THREADPOOL_SIZE: must be at least 2, one thread beyond argon2's (got 1)",
    );
  });
});
