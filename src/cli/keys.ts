/** `vecto keys …`: key operations an operator runs by hand. */
import { rotateAccessTokenKey } from "../auth/jwt-rotation.js";
import type { Command } from "commander";
import { generateHsmMasterKey } from "../crypto/index.js";
import { isAbsolute, resolve } from "node:path";
import { backupsUnderMaster, backupsUnderMasterRefusal } from "../backup/rewrap.js";
import type { Config } from "../config.js";
import { reencryptTenant, retireUnusedVersions, tenantsWithKeys } from "../key-admin/reencrypt.js";
import { retireMaster, rewrapAll, rotateMaster, rotateTenantKey } from "../key-admin/rotation.js";
import { openServices, type MasterKeyTarget } from "../services.js";
import { cliLogger, commandConfig, withServices } from "./context.js";
import { action, CliError, printJson, printLine } from "./output.js";
import { resolveTenant } from "./tenant.js";

const CLI_ACTOR = (command: string) => ({ type: "system" as const, id: `vecto keys ${command}` });

/** How the configured (about to be previous) master key is named in VECTO_PREVIOUS_MASTER_KEYS. */
function previousEntry(config: Config): string {
  return config.keyResolver === "pkcs11" && config.pkcs11 !== null
    ? `pkcs11:${config.pkcs11.keyLabel}`
    : `file:${config.masterKeyFile}`;
}

function rotationTarget(options: { newKeyFile?: string; newKeyLabel?: string }): MasterKeyTarget {
  if ((options.newKeyFile === undefined) === (options.newKeyLabel === undefined))
    throw new CliError("give exactly one of --new-key-file PATH or --new-key-label LABEL");
  if (options.newKeyFile !== undefined)
    return { kind: "env", file: isAbsolute(options.newKeyFile) ? options.newKeyFile : resolve(options.newKeyFile) };
  return { kind: "pkcs11", keyLabel: options.newKeyLabel ?? "" };
}

function nextConfigLines(config: Config, target: MasterKeyTarget): string[] {
  const current =
    target.kind === "env"
      ? [`VECTO_KEY_RESOLVER=env`, `VECTO_MASTER_KEY_FILE=${target.file}`]
      : [`VECTO_KEY_RESOLVER=pkcs11`, `VECTO_PKCS11_KEY_LABEL=${target.keyLabel}`];
  return [...current, `VECTO_PREVIOUS_MASTER_KEYS=${previousEntry(config)}`];
}

export function keysCommand(program: Command): void {
  const keys = program.command("keys").description("key operations");
  keys
    .command("status")
    .description(
      "the key resolver, the loaded master key's label and every tenant's data-key versions (no key material)",
    )
    .option("--json", "print as JSON")
    .action(
      action(async (options: { json?: boolean }) => {
        const config = commandConfig();
        const services = await openServices(config, cliLogger(config));
        try {
          const status = services.keys.status();
          if (options.json) return printJson(status);
          printLine(
            `resolver: ${status.resolver.kind}, master key ${status.resolver.masterLabel} (version ` +
              `${status.masterVersion ?? "-"})`,
          );
          for (const m of status.masterKeys) {
            const state = m.retiredAt !== null ? "retired" : m.current ? "current" : m.loaded ? "loaded" : "not loaded";
            printLine(`  master v${m.version} ${m.label}: ${state}, wraps ${m.wraps} data keys`);
          }
          for (const t of status.tenants) {
            const versions = t.versions
              .map((v) => `v${v.version} ${v.status} (${v.values} values, ${v.encryptions} encryptions)`)
              .join(", ");
            const left = t.reencryptionRemaining > 0 ? `; re-encryption: ${t.reencryptionRemaining} values left` : "";
            printLine(`  ${t.tenantId}: ${versions}${left}`);
          }
          if (status.wrappedUnderOtherMasterKeys > 0)
            printLine(`  ${status.wrappedUnderOtherMasterKeys} key(s) are wrapped under another master key`);
          const server = status.runningServer;
          printLine(
            server === null
              ? "running server: none"
              : `running server: pid ${server.pid} since ${server.startedAt}, current master key ` +
                  `${server.currentLabel}`,
          );
          for (const [who, health] of [
            ["this configuration", status.health],
            ["running server", server?.health],
          ] as const) {
            for (const failure of health?.failures ?? []) printLine(`  FAIL (${who}): ${failure}`);
            for (const warning of health?.warnings ?? []) printLine(`  WARNING (${who}): ${warning}`);
          }
        } finally {
          services.close();
        }
      }),
    );
  keys
    .command("rotate-master")
    .description(
      "rotate the master key: create (or load) the new key, wrap every data key under it; the old key " +
        "keeps unwrapping until retired",
    )
    .option("--new-key-file <path>", "a master key file (created 0600 if it does not exist)")
    .option(
      "--new-key-label <label>",
      "a key label in the configured PKCS#11 token (generated non-extractable if missing)",
    )
    .option("--json", "print as JSON")
    .action(
      action(async (options: { newKeyFile?: string; newKeyLabel?: string; json?: boolean }) => {
        const target = rotationTarget(options);
        await withServices(async (services, config) => {
          const result = await rotateMaster(
            services.keyAdmin,
            await services.keyAdmin.openMaster(target),
            CLI_ACTOR("rotate-master"),
          );
          const next = nextConfigLines(config, target);
          if (options.json) return printJson({ ...result, nextConfig: next });
          printLine(
            `master key ${result.masterLabel} (version ${result.masterVersion}) now wraps every data key ` +
              `(${result.wrapsAdded} wraps added)`,
          );
          printLine("Make it current in /etc/vecto/vecto.env, keeping the old key for unwrapping, then restart:");
          for (const line of next) printLine(`  ${line}`);
          printLine(
            `The running server keeps working meanwhile. Once it was restarted with this configuration: ` +
              `vecto keys retire-master ${result.previousLabel}`,
          );
        });
      }),
    );
  keys
    .command("retire-master")
    .description(
      "remove every wrap under an earlier master key; refuses while the running server still uses it or " +
        "any data key is wrapped only under it (run again to clean up an already retired key)",
    )
    .argument("<label>", "the master key label (see vecto keys status)")
    .option("--json", "print as JSON")
    .action(
      action(async (label: string, options: { json?: boolean }) => {
        await withServices(async (services, config) => {
          // Backups whose file key only this master key unwraps (src/backup/rewrap.ts): refused before anything is
          // retired.
          const underLabel = await backupsUnderMaster(config.backup.dir, label);
          if (underLabel.length > 0)
            throw new CliError(backupsUnderMasterRefusal(label, config.backup.dir, underLabel));
          const result = await retireMaster(services.keyAdmin, label, CLI_ACTOR("retire-master"));
          if (options.json) return printJson({ masterLabel: label, ...result });
          if (result.alreadyRetired)
            printLine(`master key ${label} was retired already: ${result.wrapsRemoved} leftover wraps removed`);
          else
            printLine(
              `master key ${label} retired: ${result.wrapsRemoved} wraps removed; take it out of ` +
                `VECTO_PREVIOUS_MASTER_KEYS and destroy it`,
            );
        });
      }),
    );
  keys
    .command("rewrap")
    .description(
      "wrap every data key under each loaded, non-retired master key it lacks (load an old key in " +
        "VECTO_PREVIOUS_MASTER_KEYS to rescue what only it wraps)",
    )
    .option("--json", "print as JSON")
    .action(
      action(async (options: { json?: boolean }) => {
        await withServices(async (services) => {
          const result = await rewrapAll(services.keyAdmin, CLI_ACTOR("rewrap"));
          if (options.json) return printJson({ ...result, masterLabels: services.resolver.labels() });
          printLine(`${result.wrapsAdded} wraps added under ${services.resolver.labels().join(", ")}`);
        });
      }),
    );
  keys
    .command("rotate-tenant")
    .description(
      "a new data-key version for a tenant (or every tenant): new writes use it at once; re-encryption " +
        "moves older rows",
    )
    .argument("[tenant]", "the tenant: its id or slug")
    .option("--all", "every tenant")
    .option("--json", "print as JSON")
    .action(
      action(async (tenant: string | undefined, options: { all?: boolean; json?: boolean }) => {
        if ((tenant === undefined) === (options.all !== true))
          throw new CliError("give a tenant (id or slug) or --all");
        await withServices(async (services) => {
          const ids = options.all ? tenantsWithKeys(services.keyAdmin) : [resolveTenant(services.db, tenant ?? "").id];
          const rotated: { tenantId: string; version: number }[] = [];
          for (const id of ids)
            rotated.push({
              tenantId: id,
              ...(await rotateTenantKey(services.keyAdmin, id, CLI_ACTOR("rotate-tenant"))),
            });
          if (options.json) return printJson(rotated);
          for (const r of rotated) printLine(`${r.tenantId}: data key version ${r.version} takes new writes`);
        });
      }),
    );
  keys
    .command("reencrypt")
    .description(
      "re-encrypt rows sealed under older data-key versions now (the background job does the same in " +
        "shares); resumable",
    )
    .option("--tenant <tenant>", "only this tenant (id or slug)")
    .option(
      "--retire-unused-now",
      "retire versions nothing uses at once, without the grace period (only when no server is running)",
    )
    .option("--json", "print as JSON")
    .action(
      action(async (options: { tenant?: string; retireUnusedNow?: boolean; json?: boolean }) => {
        await withServices(async (services) => {
          const actor = CLI_ACTOR("reencrypt");
          const ids =
            options.tenant !== undefined
              ? [resolveTenant(services.db, options.tenant).id]
              : tenantsWithKeys(services.keyAdmin);
          const results = [];
          for (const id of ids) {
            const done = await reencryptTenant(services.keyAdmin, id, actor);
            const retired =
              options.retireUnusedNow && done.remaining === 0
                ? retireUnusedVersions(services.keyAdmin, id, 0, actor)
                : [];
            results.push({ ...done, retiredVersions: retired });
            if (!options.json)
              printLine(
                `${id}: ${done.rewritten} values re-encrypted to version ${done.writeVersion ?? "-"}, ` +
                  `${done.remaining} left${retired.length > 0 ? `; retired v${retired.join(", v")}` : ""}`,
              );
          }
          if (options.json) printJson(results);
        });
      }),
    );
  keys
    .command("rotate-jwt")
    .description("start a new access-token signing key now (tokens signed by older keys stay valid until they expire)")
    .option("--json", "print as JSON")
    .action(
      action(async (options: { json?: boolean }) => {
        const config = commandConfig();
        const services = await openServices(config, cliLogger(config));
        try {
          const kid = await rotateAccessTokenKey(services.identity, { type: "system", id: "vecto keys rotate-jwt" });
          if (options.json) printJson({ kid });
          else printLine(`new access-token signing key ${kid}; older keys verify until their tokens expire`);
        } finally {
          services.close();
        }
      }),
    );
  keys
    .command("init-hsm")
    .description(
      "generate the AES-256 master key inside the configured PKCS#11 token (non-extractable); refuses if " +
        "the key label exists",
    )
    .option("--json", "print as JSON")
    .action(
      action(async (options: { json?: boolean }) => {
        const config = commandConfig();
        if (config.pkcs11 === null)
          throw new CliError("init-hsm needs VECTO_KEY_RESOLVER=pkcs11 and the VECTO_PKCS11_* settings");
        const { masterLabel } = await generateHsmMasterKey(config.pkcs11);
        if (options.json) printJson({ masterLabel });
        else printLine(`generated master key ${masterLabel} (non-extractable, inside the token)`);
      }),
    );
}
