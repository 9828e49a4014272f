import { existsSync } from "node:fs";
import type { Command } from "commander";
import { issueSetupToken } from "../auth/setup-token.js";
import { Database } from "../db/db.js";
import { commandConfig } from "./context.js";
import { action, CliError, printJson, printLine } from "./output.js";

export function setupTokenCommand(program: Command): void {
  program
    .command("setup-token")
    .description("issue a new one-time setup token for creating the platform root (retires any earlier one)")
    .option("--json", "print as JSON")
    .action(
      action(async (options: { json?: boolean }) => {
        const config = commandConfig();
        if (!existsSync(config.databaseFile))
          throw new CliError(`no database at ${config.databaseFile}; run "vecto init" first`);
        const db = Database.open(config.databaseFile);
        try {
          const issued = await issueSetupToken(db, config.setupTokenTtlSeconds);
          if (options.json) return printJson(issued);
          printLine(`setup token: ${issued.token}`);
          printLine(`valid until: ${issued.expiresAt} (single use)`);
        } finally {
          db.close();
        }
      }),
    );
}
