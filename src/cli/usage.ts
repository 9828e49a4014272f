/**
 * `vecto usage export` and `vecto usage snapshot`: the usage report a customer hands over in a
 * license audit, and the daily snapshot on demand (docs/licensing.md). Nothing is sent anywhere:
 * the report is a file the customer reads, then gives to the vendor.
 */
import { fchmodSync, fstatSync, openSync, writeSync, closeSync } from "node:fs";
import type { Command } from "commander";
import { withServices } from "./context.js";
import { action, printJson, printLine } from "./output.js";

/** A file private to the service user (0600, even when it existed before). */
function writePrivate(file: string, text: string): void {
  const fd = openSync(file, "w", 0o600);
  try {
    if (fstatSync(fd).isFile()) fchmodSync(fd, 0o600);
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

interface ExportOptions {
  readonly from: string;
  readonly to: string;
  readonly out?: string;
  readonly summary?: string;
}

async function exportReport(options: ExportOptions): Promise<void> {
  const report = await withServices((services) =>
    services.usage.report(
      options.from,
      options.to,
      { type: "system", id: "vecto usage export" },
      options.out ?? "stdout",
    ),
  );
  const text = `${JSON.stringify(report, null, 2)}\n`;
  if (options.out === undefined) process.stdout.write(text);
  else writePrivate(options.out, text);
  if (options.summary !== undefined) writePrivate(options.summary, report.summary);
  if (options.out !== undefined)
    process.stderr.write(
      `usage report ${options.from} to ${options.to}: ${report.snapshots.length} day(s), ` +
        `${report.missingDays.length} missing, written to ${options.out}\n`,
    );
}

async function snapshot(options: { json?: boolean }): Promise<void> {
  const outcome = await withServices((services) =>
    services.usage.snapshot({ type: "system", id: "vecto usage snapshot" }),
  );
  const { snapshot: _signed, ...summary } =
    outcome.status === "recorded" ? outcome : { ...outcome, snapshot: undefined };
  if (options.json) printJson(summary);
  else if (outcome.status === "recorded") printLine(`recorded the usage snapshot of ${outcome.day} (${outcome.seq})`);
  else if (outcome.status === "exists") printLine(`the usage snapshot of ${outcome.day} exists (${outcome.seq})`);
  else printLine(`no snapshot of ${outcome.day}: ${outcome.reason}`);
}

export function usageCommand(program: Command): void {
  const usage = program
    .command("usage")
    .description("usage snapshots and the signed usage report for a license audit (counts only; nothing is ever sent)");
  usage
    .command("export")
    .description(
      "write the signed usage report for a period (UTC days, both included): daily snapshots, their hash " +
        "chain, missing days, clock rollbacks and a Markdown summary; recorded as usage.exported",
    )
    .requiredOption("--from <YYYY-MM-DD>", "first day")
    .requiredOption("--to <YYYY-MM-DD>", "last day (included)")
    .option("--out <file>", "write the report to this file (created 0600) instead of stdout")
    .option("--summary <file>", "also write the Markdown summary to this file")
    .action(action(exportReport));
  usage
    .command("snapshot")
    .description(
      "record the usage snapshot of yesterday (UTC) now, if it is missing (the nightly job does this at 00:15)",
    )
    .option("--json", "print as JSON")
    .action(action(snapshot));
}
