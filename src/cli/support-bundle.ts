/**
 * `vecto support-bundle [--out FILE] [--since DURATION] [--log-file FILE]`: a redacted diagnostics
 * archive (tar.gz, 0600) for vendor support; see src/support-bundle/bundle.ts and docs/operator-guide.md.
 * Exit 0 when the archive was written (parts that could not be collected are listed in it);
 * 1 with one line when it could not be written or the options are wrong.
 */
import { resolve } from "node:path";
import type { Command } from "commander";
import { ConfigError, type Config } from "../config.js";
import { collectSupportBundle, writeSupportArchive, type SupportBundleInput } from "../support-bundle/bundle.js";
import { fileLogs, journalLogs } from "../support-bundle/logs.js";
import { commandConfig } from "./context.js";
import { openKeyResolver } from "../services.js";
import { runChecks } from "./doctor.js";
import { action, CliError, printJson, printLine } from "./output.js";

const UNITS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const MAX_SINCE_MS = 90 * 86_400_000;

/** "30m", "24h", "7d" -> milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d{1,6})([smhd])$/.exec(text.trim());
  const ms = match ? Number(match[1]) * (UNITS[match[2] ?? ""] ?? 0) : 0;
  if (ms <= 0) throw new CliError(`--since: expected a duration such as 30m, 24h or 7d (got "${text}")`);
  if (ms > MAX_SINCE_MS) throw new CliError(`--since: at most 90d (got "${text}")`);
  return ms;
}

function stamp(now: Date): string {
  return now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}Z$/, "Z");
}

interface Options {
  readonly out?: string;
  readonly since: string;
  readonly logFile?: string;
  readonly unit: string;
  readonly json?: boolean;
}

export function supportBundleCommand(program: Command): void {
  program
    .command("support-bundle")
    .description(
      "write a redacted diagnostics archive for vendor support (versions, config without secrets, " +
        "doctor, key status, recent logs; no tenant content)",
    )
    .option("--out <file>", "the archive to write (refuses to overwrite); default: ./vecto-support-<time>.tar.gz")
    .option("--since <duration>", "how far back logs go: 30m, 24h, 7d (at most 90d)", "24h")
    .option("--log-file <file>", "read the logs from this file (vecto serve's output) instead of the systemd journal")
    .option("--unit <name>", "the systemd unit whose journal is read", "vecto.service")
    .option("--json", "print the result as JSON")
    .action(
      action(async (options: Options) => {
        const now = new Date();
        const since = new Date(now.getTime() - parseDuration(options.since));
        const out = resolve(options.out ?? `vecto-support-${stamp(now)}.tar.gz`);

        let config: Config | null = null;
        let configError: string | undefined;
        try {
          config = commandConfig();
        } catch (error) {
          // A configuration that does not load is a reason to ask for support: bundle what we can.
          if (!(error instanceof ConfigError)) throw error;
          configError = error.message;
        }
        let checks: SupportBundleInput["checks"];
        try {
          checks = config === null ? { error: `configuration: ${configError ?? ""}` } : await runChecks(config);
        } catch (error) {
          checks = { error: (error as Error).message };
        }
        const logs =
          options.logFile !== undefined ? fileLogs(resolve(options.logFile), since) : journalLogs(options.unit, since);

        const bundle = await collectSupportBundle({
          config,
          ...(configError === undefined ? {} : { configError }),
          checks,
          logs,
          since,
          now,
          openKeyResolver,
        });
        const bytes = await writeSupportArchive(out, bundle.files, now);
        const files = [...bundle.files.map((f) => f.name)].sort();
        if (options.json) return printJson({ file: out, bytes, files, problems: bundle.problems });
        printLine(`support bundle written to ${out} (${bytes} bytes, mode 0600): ${files.join(", ")}`);
        for (const p of bundle.problems) printLine(`  not collected fully: ${p}`);
        printLine(
          "It holds no tenant content and no secret; MANIFEST.txt lists what is in it. Review it before you send it.",
        );
      }),
    );
}
