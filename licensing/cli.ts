/**
 * The vendor's licensing tool (never shipped in the appliance): `npm run licensing -- <command>`.
 *
 *   keygen --out DIR                          Ed25519 license-signing key pair (private key 0600)
 *   issue --key PRIV (--spec FILE | flags)    sign a license file
 *   verify-license FILE                       check a license file's signature and show it
 *   verify-usage REPORT [--license FILE]      verify a customer's usage report: signatures,
 *                                             chain, gaps, clock rollbacks, overage
 *
 * Runs offline. It shares only the format modules with the appliance (src/license/format.ts,
 * src/usage/report-format.ts and what they import: src/crypto/ed25519.ts, zod, canonicalize), never
 * the appliance's database, crypto service or native addons. See licensing/README.md.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { Command } from "commander";
import { keyIdOf, parsePublicKey } from "../src/crypto/ed25519.js";
import { LicenseError, verifyLicense, type LicensePayload, type VendorKey } from "../src/license/format.js";
import { VENDOR_KEYS } from "../src/license/vendor-keys.js";
import { verificationText, verifyUsageReport } from "../src/usage/report-format.js";
import { issueLicense, type IssueFlags } from "./issue.js";
import { generateVendorKey, keyIdOfPrivate, loadPrivateKey, VendorToolError } from "./keys.js";

class ToolFailure extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

function out(text: string): void {
  process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
}

function note(text: string): void {
  process.stderr.write(`${text}\n`);
}

function run<A extends unknown[]>(fn: (...args: A) => void | Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (error) {
      const known = error instanceof ToolFailure || error instanceof VendorToolError || error instanceof LicenseError;
      process.stderr.write(
        `vecto-licensing: ${known ? (error as Error).message : `unexpected error: ${(error as Error).message}`}\n`,
      );
      process.exitCode = error instanceof ToolFailure ? error.exitCode : 1;
    }
  };
}

/** A public key given on the command line: a file (PEM or base64) or the base64 itself. */
function publicKeyArg(value: string): Uint8Array {
  const text = existsSync(value) ? readFileSync(value, "utf8") : value;
  try {
    return parsePublicKey(text);
  } catch (error) {
    throw new ToolFailure(`${value}: ${(error as Error).message}`);
  }
}

/** The compiled vendor keys plus any given with --vendor-pubkey (the vendor's own, e.g. a new one not yet in a build). */
function vendorKeys(extra: readonly string[]): VendorKey[] {
  return [
    ...VENDOR_KEYS,
    ...extra.map((v) => {
      const raw = publicKeyArg(v);
      return { kid: keyIdOf(raw), publicKey: Buffer.from(raw).toString("base64") };
    }),
  ];
}

function readLicense(file: string, keys: readonly VendorKey[]): { payload: LicensePayload; kid: string } {
  if (!existsSync(file)) throw new ToolFailure(`no such file: ${file}`);
  try {
    return verifyLicense(readFileSync(file, "utf8"), keys);
  } catch (error) {
    if (error instanceof LicenseError) throw new ToolFailure(`${file}: ${error.message}`);
    throw error;
  }
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

function buildProgram(): Command {
  const program = new Command("vecto-licensing")
    .description("Vecto vendor licensing tool: keys, license issuing, usage-report verification (offline)")
    .showHelpAfterError();

  program
    .command("keygen")
    .description(
      "generate an Ed25519 license-signing key pair: DIR/vendor-license-key.pem (PKCS#8, 0600), DIR/vendor-license-key.pub.pem and DIR/vendor-keys.json (the build input: npm run build:appliance -- --vendor-keys FILE); prints the kid",
    )
    .requiredOption("--out <dir>", "directory for the key files (created 0700; existing keys are never overwritten)")
    .option("--json", "print as JSON")
    .action(
      run((options: { out: string; json?: boolean }) => {
        const key = generateVendorKey(options.out);
        if (options.json) return out(JSON.stringify(key, null, 2));
        out(`kid ${key.kid}`);
        out(`public key (raw, base64) ${key.publicKey}`);
        out(`private key ${key.privateKeyFile} (0600: keep it offline, never in a repository)`);
        out(`public key ${key.publicKeyFile}`);
        out(
          `build input ${key.vendorKeysFile}: npm run build:appliance -- --vendor-keys FILE (a release trusting this key alone)`,
        );
        out(
          `its entry, for a release's keys file that lists several: ${JSON.stringify({ kid: key.kid, publicKey: key.publicKey })}`,
        );
      }),
    );

  program
    .command("issue")
    .description(
      "sign a license from a JSON spec (the payload's fields; issuedAt, notBefore, features and graceDays may be left out) and/or flags (flags win)",
    )
    .requiredOption("--key <file>", "the vendor's private key (PKCS#8 PEM)")
    .option(
      "--spec <file>",
      "JSON spec: licenseId, licensee, edition, deploymentMode, limits {tenants, users, agents}, features, issuedAt, notBefore, expiresAt, graceDays, sequence",
    )
    .option("--out <file>", "write the license here instead of stdout")
    .option("--license-id <id>")
    .option("--licensee <name>")
    .option("--edition <edition>")
    .option("--mode <mode>", "deployment mode: public-saas, private-saas, on-prem or appliance")
    .option("--tenants <n>")
    .option("--users <n>")
    .option("--agents <n>")
    .option("--features <list>", "comma-separated, e.g. hsm,sso")
    .option("--issued-at <time>", "RFC 3339 UTC (default: now)")
    .option(
      "--not-before <time>",
      "RFC 3339 UTC or YYYY-MM-DD (default: a day before issuedAt, for customer clocks somewhat behind)",
    )
    .option("--expires <time>", "RFC 3339 UTC or YYYY-MM-DD")
    .option("--grace-days <n>", "days after expiry before the appliance turns read-only (default 30)")
    .option("--sequence <n>", "must be higher than that of any license the customer installed before")
    .action(
      run((options: IssueFlags & { key: string; out?: string }) => {
        const key = loadPrivateKey(options.key, note);
        const { text, payload } = issueLicense(options, key, new Date());
        if (options.out === undefined) out(text);
        else writeFileSync(options.out, text, { mode: 0o644 });
        note(
          `issued ${payload.licenseId} (sequence ${payload.sequence}) for ${payload.licensee}, ${payload.notBefore} to ${payload.expiresAt}, signed with key ${keyIdOfPrivate(key)}`,
        );
      }),
    );

  program
    .command("verify-license")
    .description("check a license file's signature against the vendor keys and print its payload")
    .argument("<file>")
    .option("--vendor-pubkey <key>", "an extra trusted vendor public key (file or base64); repeatable", collect, [])
    .action(
      run((file: string, options: { vendorPubkey: string[] }) => {
        const { payload, kid } = readLicense(file, vendorKeys(options.vendorPubkey));
        out(JSON.stringify({ kid, payload }, null, 2));
      }),
    );

  program
    .command("verify-usage")
    .description(
      "verify a customer's usage report: the report and every snapshot signature, the hash chain, missing days, clock rollbacks, overage against the license; exit 1 on tampering",
    )
    .argument("<report>", "the report file (vecto usage export)")
    .option("--license <file>", "the customer's license: its limits are what overage is measured against")
    .option(
      "--pubkey-of-installation <key>",
      "the installation's public key as known from an earlier report (file or base64): the report must be signed with it",
    )
    .option("--previous-head <hash>", "the chain head of the previous report: this report must continue from it")
    .option(
      "--vendor-pubkey <key>",
      "an extra trusted vendor public key for --license (file or base64); repeatable",
      collect,
      [],
    )
    .option("--json", "print the verification as JSON")
    .action(
      run(
        (
          file: string,
          options: {
            license?: string;
            pubkeyOfInstallation?: string;
            previousHead?: string;
            vendorPubkey: string[];
            json?: boolean;
          },
        ) => {
          if (!existsSync(file)) throw new ToolFailure(`no such file: ${file}`);
          let report: unknown;
          try {
            report = JSON.parse(readFileSync(file, "utf8"));
          } catch {
            throw new ToolFailure(`${file}: not JSON; is it a usage report?`);
          }
          const license =
            options.license === undefined
              ? undefined
              : readLicense(options.license, vendorKeys(options.vendorPubkey)).payload;
          const result = verifyUsageReport(report, {
            ...(license ? { license } : {}),
            ...(options.pubkeyOfInstallation !== undefined
              ? { pinnedKey: publicKeyArg(options.pubkeyOfInstallation) }
              : {}),
            ...(options.previousHead !== undefined ? { previousHead: options.previousHead } : {}),
          });
          out(options.json ? JSON.stringify(result, null, 2) : verificationText(result));
          if (!result.ok)
            throw new ToolFailure(`${file}: the report does not verify (${result.problems.length} problem(s))`);
        },
      ),
    );

  return program;
}

await buildProgram().parseAsync(process.argv);
