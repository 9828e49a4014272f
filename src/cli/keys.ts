/** `vecto keys …`: key operations an operator runs by hand. */
import type { Command } from "commander";
import { generateHsmMasterKey } from "../crypto/resolvers/pkcs11.js";
import { keyStatus } from "../keys/status.js";
import { createLogger } from "../log.js";
import { openServices } from "../services.js";
import { commandConfig } from "./context.js";
import { action, CliError, printJson, printLine } from "./output.js";

export function keysCommand(program: Command): void {
  const keys = program.command("keys").description("key operations");
  keys
    .command("status")
    .description("the key resolver, the loaded master key's label and every tenant's data-key versions (no key material)")
    .option("--json", "print as JSON")
    .action(
      action(async (options: { json?: boolean }) => {
        const config = commandConfig();
        const services = await openServices(config, createLogger(config.logLevel, "stderr"));
        try {
          const status = keyStatus(services.resolver, services.db.keystore);
          if (options.json) return printJson(status);
          printLine(`resolver: ${status.resolver.kind}, master key ${status.resolver.masterLabel}`);
          for (const t of status.tenants) printLine(`  ${t.tenantId}: ${t.versions.map((v) => `v${v.version} ${v.status}`).join(", ")}`);
          if (status.wrappedUnderOtherMasterKeys > 0) printLine(`  ${status.wrappedUnderOtherMasterKeys} key(s) are wrapped under another master key`);
        } finally {
          services.close();
        }
      }),
    );
  keys
    .command("rotate-jwt")
    .description("start a new access-token signing key now (tokens signed by older keys stay valid until they expire)")
    .option("--json", "print as JSON")
    .action(
      action(async (options: { json?: boolean }) => {
        const config = commandConfig();
        const log = createLogger(config.logLevel, "stderr");
        const services = await openServices(config, log);
        try {
          const kid = await services.identity.accessTokens.rotate();
          services.identity.events.emit({ event: "auth.jwt_key_rotated", sensitivity: "security", severity: "info", tenantId: null, actor: { type: "system", id: "vecto keys rotate-jwt" }, payload: { kid } });
          if (options.json) printJson({ kid });
          else printLine(`new access-token signing key ${kid}; older keys verify until their tokens expire`);
        } finally {
          services.close();
        }
      }),
    );
  keys
    .command("init-hsm")
    .description("generate the AES-256 master key inside the configured PKCS#11 token (non-extractable); refuses if the key label exists")
    .option("--json", "print as JSON")
    .action(
      action(async (options: { json?: boolean }) => {
        const config = commandConfig();
        if (config.pkcs11 === null) throw new CliError("init-hsm needs VECTO_KEY_RESOLVER=pkcs11 and the VECTO_PKCS11_* settings");
        const { masterLabel } = await generateHsmMasterKey(config.pkcs11);
        if (options.json) printJson({ masterLabel });
        else printLine(`generated master key ${masterLabel} (non-extractable, inside the token)`);
      }),
    );
}
