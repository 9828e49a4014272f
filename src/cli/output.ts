/** How commands talk to the operator: one-line failures on stderr, data on stdout (or JSON with --json). */

export class CliError extends Error {
  override readonly name = "CliError";
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printLine(line = ""): void {
  process.stdout.write(`${line}\n`);
}

/** The one line a failed command prints: the first line of the message, never a stack trace. */
export function failureLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return `vecto: ${message.split("\n")[0] ?? "failed"}`;
}

/** Runs a command action; any failure becomes one line on stderr and a non-zero exit. */
export function action<A extends unknown[]>(run: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await run(...args);
    } catch (error) {
      process.stderr.write(`${failureLine(error)}\n`);
      process.exitCode = error instanceof CliError ? error.exitCode : 1;
    }
  };
}
