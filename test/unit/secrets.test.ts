/**
 * Tenant secrets, the parts that need no server: the value rules, the name rule, the scope's
 * place in the role table, and the source-level rule that only server-internal code (never a
 * route, never the server layer) opens a secret.
 */
import { describe, expect, it } from "vitest";
import { PROJECT_SCOPES, ROLES, scopesFor } from "../../src/vocabulary/roles.js";
import { isSecretName, SECRET_VALUE_MAX_BYTES, secretValueProblem } from "../../src/secrets/secrets.js";
import { importedModules, namedImportsFrom, sourceFiles, type SourceFile } from "../source-files.js";

describe("secret values", () => {
  it("accepts any well-formed UTF-8 text of 1 to 8 KiB", () => {
    for (const value of [
      "x",
      "sk-proj-abc123",
      "with spaces and\nnewlines\t",
      "ünïcödé 密钥 🔑",
      "a".repeat(SECRET_VALUE_MAX_BYTES),
      "é".repeat(SECRET_VALUE_MAX_BYTES / 2),
    ]) {
      expect(secretValueProblem(value), JSON.stringify(value).slice(0, 40)).toBeUndefined();
    }
  });

  it("refuses empty, too many bytes, NUL and lone surrogates, without quoting the value", () => {
    const refused: [string, RegExp][] = [
      ["", /empty/],
      ["a".repeat(SECRET_VALUE_MAX_BYTES + 1), /8192 bytes/],
      ["é".repeat(SECRET_VALUE_MAX_BYTES / 2) + "a", /8192 bytes/], // 4097 characters, 8193 bytes
      ["sk-\u0000tail", /NUL/],
      ["sk-\ud800tail", /surrogate/],
      ["sk-\udc00", /surrogate/],
    ];
    for (const [value, reason] of refused) {
      const problem = secretValueProblem(value) ?? "";
      expect(problem, JSON.stringify(value).slice(0, 40)).toMatch(reason);
      if (value.length > 0) expect(problem).not.toContain(value.slice(0, 3));
    }
    expect(secretValueProblem("🔑")).toBeUndefined(); // a surrogate pair is one code point, not a lone surrogate
  });
});

describe("secret names", () => {
  it("are identifiers: lowercase letters, digits, _ . -, starting with a letter or digit, at most 63", () => {
    for (const name of ["a", "openai", "openai.api-key", "anthropic_key", "0day", "a".repeat(63)])
      expect(isSecretName(name), name).toBe(true);
    for (const name of [
      "",
      "A",
      "Openai",
      "-x",
      ".x",
      "_x",
      "has space",
      "sl/ash",
      "ü",
      "a".repeat(64),
      "x\n",
      "x\u0000",
    ])
      expect(isSecretName(name), JSON.stringify(name)).toBe(false);
  });
});

describe("the secrets:manage scope", () => {
  it("belongs to tenant admins only, and never to a project-restricted token", () => {
    const holders = ROLES.filter((role) => scopesFor(role, true, "human").has("secrets:manage"));
    expect(holders).toEqual(["tenant_admin"]);
    expect(PROJECT_SCOPES.has("secrets:manage")).toBe(false);
  });
});

describe("who opens a secret", () => {
  it("no module under src/server (routes included) imports useSecret: values are for server-internal use only", () => {
    const secretsModule = (m: string): boolean => /(^|\/)secrets\/secrets\.js$/.test(m);
    // A namespace or default import ("*") could reach useSecret too, so it counts as one.
    const opens = (file: SourceFile): boolean =>
      importedModules(file)
        .filter(secretsModule)
        .some((m) => namedImportsFrom(file, m).some((name) => name === "useSecret" || name === "*"));
    const server = sourceFiles("src/server");
    expect(server.some((f) => f.path === "src/server/routes/secrets.ts")).toBe(true);
    expect(server.filter(opens).map((f) => f.path)).toEqual([]);
    // The check sees such imports:
    expect(
      opens({
        path: "src/server/routes/x.ts",
        text: 'import { listSecrets, useSecret } from "../../secrets/secrets.js";',
      }),
    ).toBe(true);
    expect(
      opens({ path: "src/server/routes/x.ts", text: 'import * as secrets from "../../secrets/secrets.js";' }),
    ).toBe(true);
    expect(
      opens({ path: "src/server/routes/x.ts", text: 'import { listSecrets } from "../../secrets/secrets.js";' }),
    ).toBe(false);
  });
});
