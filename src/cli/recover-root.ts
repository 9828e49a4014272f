/** `vecto recover-root`: the break-glass reset of a forgotten platform-root password (src/auth/root-recovery.ts). */
import type { Command } from "commander";
import { ROOT_RECOVERY_DISABLED, ROOT_RECOVERY_TTL_SECONDS } from "../auth/root-recovery.js";
import { commandConfig, withServices } from "./context.js";
import { action, CliError, printJson, printLine } from "./output.js";

export function recoverRootCommand(program: Command): void {
  program
    .command("recover-root")
    .description(
      `issue a one-time recovery token (${ROOT_RECOVERY_TTL_SECONDS / 60} minutes) that sets a new ` +
        `password for the platform root; voids any earlier one`,
    )
    .option("--email <email>", "the root to recover, when there is more than one")
    .option("--json", "print as JSON")
    .action(
      action(async (options: { email?: string; json?: boolean }) => {
        // Checked before anything is opened: a refusal writes nothing, not even a migration.
        if (!commandConfig().rootRecovery) throw new CliError(ROOT_RECOVERY_DISABLED);
        await withServices(async (services) => {
          const issued = await services.identity.passwordFlows.issueRootRecovery(options.email);
          if (options.json) return printJson(issued);
          printLine(`recovery token for the platform root ${issued.email}: ${issued.token}`);
          printLine(`valid until: ${issued.expiresAt} (single use; any earlier recovery token no longer works)`);
          printLine(
            'Set the new password with POST /api/auth/password-reset {"token": "<the token>", ' +
              '"newPassword": "…"}; every session of the root ends.',
          );
        });
      }),
    );
}
