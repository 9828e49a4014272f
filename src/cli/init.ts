import type { Command } from "commander";
import { initialize } from "../data-dir.js";
import { Database } from "../db/db.js";
import { cliLogger, commandConfig } from "./context.js";
import { action, printJson, printLine } from "./output.js";

export function initCommand(program: Command): void {
  program
    .command("init")
    .description(
      "create the data directory, master key, TLS certificate and database; never overwrites an existing key",
    )
    .option("--json", "print what was created as JSON")
    .action(
      action(async (options: { json?: boolean }) => {
        const config = commandConfig();
        const log = cliLogger(config, "warn");
        const { created } = await initialize(config, log);
        const db = Database.open(config.databaseFile);
        const result = {
          dataDir: config.dataDir,
          created,
          schemaVersion: db.schemaVersion(),
          installationId: db.installationId(),
        };
        db.close();
        if (options.json) return printJson(result);
        printLine(`initialized ${config.dataDir}`);
        for (const file of created) printLine(`  created ${file}`);
        printLine(`  database schema version ${result.schemaVersion}`);
      }),
    );
}
