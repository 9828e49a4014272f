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

/** Set once the reader of stdout went away (`vecto … | head`): nothing more is written there. */
let stdoutClosed = false;

function errorCode(error: unknown): unknown {
  return typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
}

/** A failure that only says stdout's reader stopped reading (EPIPE, or writing after that). */
function isClosedStdout(error: unknown): boolean {
  const code = errorCode(error);
  return stdoutClosed && (code === "EPIPE" || code === "ERR_STREAM_DESTROYED" || code === "ERR_STREAM_PREMATURE_CLOSE");
}

/**
 * `vecto … | head` must end quietly, as `git log | head` does: when the reader closes the pipe,
 * the command stops writing to stdout but finishes its work (a key or backup command is never cut
 * off half-way by a pager) and exits 0 without a stack trace. Any other stdout failure is one line.
 */
export function endQuietlyOnClosedStdout(): void {
  process.stdout.on("error", (error: unknown) => {
    if (errorCode(error) === "EPIPE") stdoutClosed = true;
    if (isClosedStdout(error)) return;
    process.stderr.write(`${failureLine(error)}\n`);
    process.exit(1);
  });
}

export function printJson(value: unknown): void {
  if (!stdoutClosed) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printLine(line = ""): void {
  if (!stdoutClosed) process.stdout.write(`${line}\n`);
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
      // A stream to stdout (an export) fails with the reader gone: that is the reader's choice, not a failure.
      if (isClosedStdout(error)) return;
      process.stderr.write(`${failureLine(error)}\n`);
      process.exitCode = error instanceof CliError ? error.exitCode : 1;
    }
  };
}
