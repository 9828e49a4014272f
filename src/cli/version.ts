import type { Command } from "commander";
import { VERSION } from "../version.js";
import { action, printJson, printLine } from "./output.js";

export function versionCommand(program: Command): void {
  program
    .command("version")
    .description("print the version of this build")
    .option("--json", "print as JSON")
    .action(
      action(async (options: { json?: boolean }) => {
        const info = { version: VERSION, node: process.versions.node, platform: `${process.platform}-${process.arch}` };
        if (options.json) printJson(info);
        else printLine(`vecto ${info.version} (node ${info.node}, ${info.platform})`);
      }),
    );
}
