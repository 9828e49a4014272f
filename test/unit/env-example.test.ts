/**
 * config/vecto.env.example, shipped in the offline bundle: it names every variable src/config.ts
 * reads, sets none of them (all commented out), and every line is valid once uncommented.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig, parseEnvFile } from "../../src/config.js";
import { ROOT, testDir } from "../helpers.js";

const example = readFileSync(join(ROOT, "config", "vecto.env.example"), "utf8");
const configSource = readFileSync(join(ROOT, "src", "config.ts"), "utf8");
// "VECTO_PKCS11_*" in messages is a family, not a variable.
const variables = [...new Set(configSource.match(/VECTO_[A-Z0-9_]+/g) ?? [])].filter((v) => !v.endsWith("_")).sort();

describe("config/vecto.env.example", () => {
  it("documents every VECTO_* variable of src/config.ts, each commented out with one line of comment above", () => {
    expect(variables.length).toBeGreaterThan(15);
    const lines = example.split("\n");
    for (const name of variables) {
      if (name === "VECTO_ENV_FILE") {
        expect(example, name).toContain(name);
        continue;
      }
      const at = lines.findIndex((l) => l.startsWith(`#${name}=`));
      expect(at, `${name} missing`).toBeGreaterThan(0);
      expect(lines[at - 1], `${name} needs a comment line`).toMatch(/^# |^#VECTO_/);
    }
  });

  it("sets nothing as shipped, and holds no key or PIN", () => {
    expect(parseEnvFile(example, "vecto.env.example")).toEqual({});
    expect(example).not.toMatch(/^[^#\s]/m);
    expect(example).not.toMatch(/[A-Za-z0-9+/]{43}=/);
  });

  it("is valid configuration with every line uncommented", () => {
    const dir = testDir("vecto-env-example-");
    const file = join(dir, "vecto.env");
    writeFileSync(file, example.replace(/^#(VECTO_)/gm, "$1"));
    const parsed = parseEnvFile(readFileSync(file, "utf8"), file);
    expect(Object.keys(parsed).sort()).toEqual(variables.filter((v) => v !== "VECTO_ENV_FILE"));
    const config = loadConfig({ VECTO_ENV_FILE: file }, dir);
    expect(config.listen).toEqual({ host: "127.0.0.1", port: 8443 });
    expect(config.backup).toEqual({ dir: "/var/lib/vecto/backups", schedule: "0 3 * * *", keep: 7 });
    expect(config.dekMaxEncryptions).toBe(2 ** 30);
    expect(config.previousMasterKeys).toEqual([]);
    expect(config.airgapped).toBe(true);
  });
});
