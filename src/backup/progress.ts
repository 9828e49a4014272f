/**
 * Progress of a long backup step, for a person at a terminal: one line on stderr rewritten with
 * \r ("backup: encrypting  120.0/200.0 MB  310 MB/s"). Silent when stderr is not a terminal
 * (logs, pipes, cron) or with --json: a redraw loop in a journal is noise.
 */

export interface Progress {
  /** Starts a step of `total` bytes. */
  start(step: string, total: number): void;
  add(bytes: number): void;
  /** Ends the current step (clears the line). */
  done(): void;
}

export const silentProgress: Progress = { start: () => undefined, add: () => undefined, done: () => undefined };

const REDRAW_MS = 100;
const MB = 1_000_000;

export function formatProgress(step: string, done: number, total: number, seconds: number): string {
  const rate = seconds > 0 ? done / MB / seconds : 0;
  return `${step}  ${(done / MB).toFixed(1)}/${(total / MB).toFixed(1)} MB  ${rate.toFixed(0)} MB/s`;
}

/** Draws on `stream` when it is a terminal; otherwise returns the silent reporter. */
export function terminalProgress(stream: NodeJS.WriteStream, enabled: boolean): Progress {
  if (!enabled || stream.isTTY !== true) return silentProgress;
  let step = "";
  let total = 0;
  let done = 0;
  let started = 0;
  let drawn = 0;
  const draw = (): void => {
    drawn = performance.now();
    stream.write(`\r\x1b[K${formatProgress(step, done, total, (drawn - started) / 1000)}`);
  };
  return {
    start(name, bytes) {
      step = name;
      total = bytes;
      done = 0;
      started = performance.now();
      draw();
    },
    add(bytes) {
      done += bytes;
      if (performance.now() - drawn >= REDRAW_MS) draw();
    },
    done() {
      draw();
      stream.write("\n");
    },
  };
}
