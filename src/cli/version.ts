import type { Command } from "commander";
import { VENDOR_KEYS } from "../license/vendor-keys.js";
import { VERSION } from "../version.js";
import { action, printJson, printLine } from "./output.js";

export function versionCommand(program: Command): void {
  program
    .command("version")
    .description("print the version of this build and the ids of the vendor license keys compiled into it")
    .option("--json", "print as JSON")
    .action(
      action(async (options: { json?: boolean }) => {
        // vendorKeyIds: what this build trusts to sign a license (a build input, never configuration;
        // docs/licensing.md).
        const info = {
          version: VERSION,
          node: process.versions.node,
          platform: `${process.platform}-${process.arch}`,
          vendorKeyIds: VENDOR_KEYS.map((k) => k.kid),
        };
        if (options.json) printJson(info);
        else printLine(`vecto ${info.version} (node ${info.node}, ${info.platform})`);
      }),
    );
}
