/**
 * The `vecto` command. Each subcommand lives in src/cli/; this file only assembles them.
 */
// First: an unsupported Node stops here with one line, before anything else is loaded.
import "./require-node.js";
// Second: libuv's thread pool is sized before its first use (docs/authentication.md).
import "./thread-pool.js";
import { Command } from "commander";
import { auditCommand } from "./cli/audit.js";
import { backupCommand } from "./cli/backup.js";
import { doctorCommand } from "./cli/doctor.js";
import { initCommand } from "./cli/init.js";
import { keysCommand } from "./cli/keys.js";
import { licenseCommand } from "./cli/license.js";
import { usageCommand } from "./cli/usage.js";
import { endQuietlyOnClosedStdout, failureLine } from "./cli/output.js";
import { setVerbose } from "./cli/context.js";
import { recoverRootCommand } from "./cli/recover-root.js";
import { serveCommand } from "./cli/serve.js";
import { setupTokenCommand } from "./cli/setup-token.js";
import { supportBundleCommand } from "./cli/support-bundle.js";
import { tlsCommand } from "./cli/tls.js";
import { versionCommand } from "./cli/version.js";
import { VERSION } from "./version.js";

function buildProgram(): Command {
  const program = new Command("vecto")
    .description("Vecto appliance: graph-native project platform, self-hosted")
    .version(VERSION, "-V, --version", "print the version")
    .option(
      "-v, --verbose",
      "write JSON log lines to stderr (VECTO_LOG_LEVEL, at least info); serve always logs, other commands only with this",
    )
    .hook("preAction", (self) => setVerbose(self.opts<{ verbose?: boolean }>().verbose === true))
    .showHelpAfterError("(run vecto --help for usage)")
    .configureOutput({ outputError: (message, write) => write(message.split("\n")[0] + "\n") });
  for (const register of [
    serveCommand,
    initCommand,
    setupTokenCommand,
    recoverRootCommand,
    keysCommand,
    backupCommand,
    auditCommand,
    licenseCommand,
    usageCommand,
    doctorCommand,
    tlsCommand,
    supportBundleCommand,
    versionCommand,
  ])
    register(program);
  return program;
}

// Everything the appliance creates (database, keys, certificates, backups) is private to its user.
process.umask(0o077);
endQuietlyOnClosedStdout();

buildProgram()
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    process.stderr.write(`${failureLine(error)}\n`);
    process.exitCode = 1;
  });
