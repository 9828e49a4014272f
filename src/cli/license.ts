/**
 * `vecto license install <file>` and `vecto license show`: the license on the box
 * (docs/licensing.md). Installing checks what PUT /api/license checks (vendor signature, dates, a
 * rising sequence) and is recorded the same way (license.installed / license.refused).
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import type { Command } from "commander";
import { DomainError } from "../errors.js";
import { MAX_LICENSE_TEXT_BYTES } from "../license/format.js";
import type { LicenseStatus } from "../license/license.js";
import { withServices } from "./context.js";
import { action, CliError, printJson, printLine } from "./output.js";

const SYSTEM_ACTOR = "vecto license install";

function readLicenseFile(file: string): string {
  if (!existsSync(file)) throw new CliError(`no such file: ${file}`);
  if (statSync(file).size > MAX_LICENSE_TEXT_BYTES)
    throw new CliError(`${file} is larger than a license can be (${MAX_LICENSE_TEXT_BYTES} bytes)`);
  return readFileSync(file, "utf8");
}

/** The status in words, for a terminal. */
export function statusLines(status: LicenseStatus): string[] {
  const l = status.license;
  const lines = [
    `state:     ${status.state}${status.readOnly ? " (read-only for changes)" : ""}`,
    l
      ? `license:   ${l.licenseId} (sequence ${l.sequence}, key ${l.kid}), ${l.edition}, ${l.deploymentMode}`
      : "license:   none (evaluation)",
    ...(l
      ? [
          `licensee:  ${l.licensee}`,
          `valid:     ${l.notBefore} to ${l.expiresAt}, grace ${l.graceDays} days (until ${status.graceEndsAt ?? "?"})`,
          `features:  ${l.features.join(", ") || "none"}`,
        ]
      : []),
    `tenants:   ${status.usage.tenants} of ${status.limits.tenants}`,
    `users:     ${status.usage.users} of ${status.limits.users}`,
    `agents:    ${status.usage.agents} of ${status.limits.agents}`,
    ...status.warnings.map((w) => `warning:   ${w}`),
  ];
  return lines;
}

async function install(file: string, options: { json?: boolean }): Promise<void> {
  const text = readLicenseFile(file);
  const status = await withServices(async (services) => {
    try {
      return await services.license.install(text, { type: "system", id: SYSTEM_ACTOR });
    } catch (error) {
      // The reason, in one line; it was recorded as license.refused.
      if (error instanceof DomainError) throw new CliError(error.message);
      throw error;
    }
  });
  if (options.json) printJson(status);
  else for (const line of ["license installed", ...statusLines(status)]) printLine(line);
}

async function show(options: { json?: boolean }): Promise<void> {
  const status = await withServices(async (services) => services.license.status());
  if (options.json) printJson(status);
  else for (const line of statusLines(status)) printLine(line);
}

export function licenseCommand(program: Command): void {
  const license = program
    .command("license")
    .description("the license: install a license file, show the state, limits and usage");
  license
    .command("install")
    .description(
      "install a license file: checks the vendor signature (keys built into this binary), the dates, and " +
        "that its sequence is higher than the installed one's; exit 1 with the reason on refusal",
    )
    .argument("<file>", "the license file (-----BEGIN VECTO LICENSE-----)")
    .option("--json", "print the new license status as JSON")
    .action(action(install));
  license
    .command("show")
    .description("show the license state, licensee, limits, usage against them, expiry and warnings")
    .option("--json", "print as JSON")
    .action(action(show));
}
