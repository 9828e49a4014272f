/**
 * `vecto doctor`: checks an installation the way an operator would, without changing it.
 * Exit 0 when every check passes, 1 otherwise.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import type { Command } from "commander";
import type { Config } from "../config.js";
import {
  CERT_WARN_DAYS,
  checkTlsPair,
  daysLeft,
  describeCertificate,
  TlsPairError,
  type CertificateSummary,
} from "../crypto/index.js";
import { Database, keystorePath } from "../db/db.js";
import { migrations } from "../db/migrations/index.js";
import { readClientCa } from "../tls/tls-files.js";
import { openKeyResolver } from "../services.js";
import { commandConfig } from "./context.js";
import type { CheckResult } from "./doctor-check.js";
import { masterKeysCheck } from "./doctor-keys.js";
import { action, CliError, printJson, printLine } from "./output.js";

function octal(mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, "0");
}

/** A file or directory that must be private to the service user. */
function privatePath(name: string, path: string, kind: "file" | "directory"): CheckResult {
  if (!existsSync(path)) return { name, ok: false, detail: `${path} does not exist` };
  const stat = statSync(path);
  if (kind === "directory" ? !stat.isDirectory() : !stat.isFile())
    return { name, ok: false, detail: `${path} is not a ${kind}` };
  if ((stat.mode & 0o077) !== 0)
    return {
      name,
      ok: false,
      detail:
        `${path} has mode ${octal(stat.mode)}; expected ${kind === "file" ? "0600" : "0700"} (no ` +
        `group/other access)`,
    };
  if (typeof process.getuid === "function" && stat.uid !== process.getuid()) {
    return {
      name,
      ok: false,
      detail: `${path} is owned by uid ${stat.uid}, not the service user (uid ${process.getuid()})`,
    };
  }
  return { name, ok: true, detail: `${path} (${octal(stat.mode)})` };
}

async function keyResolverCheck(config: Config): Promise<CheckResult> {
  try {
    const resolver = await openKeyResolver(config);
    await resolver.check();
    return {
      name: "key resolver",
      ok: true,
      detail: `${resolver.describe().kind}, master key ${resolver.describe().masterLabel}`,
    };
  } catch (error) {
    return { name: "key resolver", ok: false, detail: (error as Error).message };
  }
}

/**
 * The certificate `vecto serve` would serve: readable, within its validity period, matching its key; a warning
 * CERT_WARN_DAYS before expiry.
 */
function certificateCheck(config: Config): CheckResult {
  const name = "tls certificate";
  if (!existsSync(config.tls.certFile)) return { name, ok: false, detail: `${config.tls.certFile} does not exist` };
  let cert: CertificateSummary;
  try {
    cert = describeCertificate(readFileSync(config.tls.certFile));
  } catch {
    return { name, ok: false, detail: `${config.tls.certFile} is not a readable PEM certificate` };
  }
  try {
    // Expired, not yet valid, or not the key's certificate: what a reload would refuse.
    checkTlsPair({ cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) });
  } catch (error) {
    return {
      name,
      ok: false,
      detail: error instanceof TlsPairError ? error.message : `cannot read ${config.tls.keyFile}`,
    };
  }
  const left = daysLeft(cert);
  const warning = left < CERT_WARN_DAYS ? `; renew soon: ${left} days left (vecto tls renew)` : "";
  return { name, ok: true, detail: `${cert.subject}, valid until ${cert.validTo.toISOString()}${warning}` };
}

/** Mutual TLS: the CA bundle `vecto serve` would refuse to start with. */
function clientCaCheck(file: string): CheckResult {
  try {
    const { subjects } = readClientCa(file);
    return { name: "tls client ca", ok: true, detail: `${file}: ${subjects.join("; ")}` };
  } catch (error) {
    return { name: "tls client ca", ok: false, detail: (error as Error).message };
  }
}

function databaseCheck(config: Config): CheckResult {
  const name = "database";
  if (!existsSync(config.databaseFile)) return { name, ok: false, detail: `${config.databaseFile} does not exist` };
  let db: Database | undefined;
  try {
    db = Database.open(config.databaseFile, { readonly: true });
    const problems = [...db.integrityCheck(), ...db.keystore.integrityCheck().map((p) => `keystore: ${p}`)];
    if (problems.length > 0) return { name, ok: false, detail: `integrity_check: ${problems.slice(0, 3).join("; ")}` };
    const latest = migrations.at(-1)?.version ?? 0;
    const version = db.schemaVersion();
    if (version !== latest)
      return { name, ok: false, detail: `schema version ${version}, this build expects ${latest}` };
    return { name, ok: true, detail: `${config.databaseFile}: integrity ok, schema version ${version}` };
  } catch (error) {
    return { name, ok: false, detail: (error as Error).message };
  } finally {
    db?.close();
  }
}

export async function runChecks(config: Config): Promise<CheckResult[]> {
  const checks: CheckResult[] = [privatePath("data directory", config.dataDir, "directory")];
  if (config.keyResolver === "env") checks.push(privatePath("master key file", config.masterKeyFile, "file"));
  checks.push(await keyResolverCheck(config));
  checks.push(privatePath("tls key file", config.tls.keyFile, "file"));
  checks.push(certificateCheck(config));
  if (config.tls.clientCaFile !== null) checks.push(clientCaCheck(config.tls.clientCaFile));
  checks.push(databaseCheck(config));
  checks.push(privatePath("keystore file", keystorePath(config.databaseFile), "file"));
  if (existsSync(config.databaseFile)) checks.push(await masterKeysCheck(config));
  return checks;
}

export function doctorCommand(program: Command): void {
  program
    .command("doctor")
    .description("check permissions, keys, TLS files and database integrity; exits non-zero on problems")
    .option("--json", "print the checks as JSON")
    .action(
      action(async (options: { json?: boolean }) => {
        const config = commandConfig();
        const checks = await runChecks(config);
        const failed = checks.filter((c) => !c.ok);
        if (options.json) printJson({ ok: failed.length === 0, checks });
        else for (const check of checks) printLine(`${check.ok ? "ok  " : "FAIL"}  ${check.name}: ${check.detail}`);
        if (failed.length > 0) throw new CliError(`${failed.length} of ${checks.length} checks failed`);
      }),
    );
}
