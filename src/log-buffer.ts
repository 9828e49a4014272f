/**
 * The server's log destination: lines are gathered during one turn of the event loop and written
 * with one write at its end (setImmediate), instead of one write system call per line. Every
 * request logs its access line, and that call was 2 to 5 % of a node read's CPU (docs/performance.md).
 *
 * What a crash can lose: the lines of the turn it happens in, and only when the process dies
 * without running its 'exit' handlers (SIGKILL, the OOM killer, power loss): an uncaught
 * exception, process.exit() and the clean shutdown all write what is pending first, and from then
 * on every line is written at once. Lines only: what must survive a crash is in the database (a
 * change commits with its audit event before it is answered). docs/logging.md says it to operators.
 */
import { pino, type DestinationStream } from "pino";

/** Above this many bytes pending, the lines are written at once rather than at the end of the turn. */
const FLUSH_BYTES = 16_384;

export interface BufferedLines extends DestinationStream {
  /** Writes what is pending now. */
  flushSync(): void;
}

/** One buffer per file descriptor, shared by every logger writing to it: their lines stay in order. */
const buffers = new Map<number, BufferedLines>();
let exiting = false;

/** Line-buffered output to `fd`; pending lines are written at the end of the turn and on exit. */
export function bufferedLines(fd: number): BufferedLines {
  let buffer = buffers.get(fd);
  if (buffer === undefined) {
    if (buffers.size === 0)
      process.once("exit", () => {
        exiting = true;
        for (const pending of buffers.values()) pending.flushSync();
      });
    buffer = newBuffer(fd);
    buffers.set(fd, buffer);
  }
  return buffer;
}

function newBuffer(fd: number): BufferedLines {
  // The writer the logger had before, unchanged: a full pipe (EAGAIN) is retried, a closed one (EPIPE) silences it.
  const out = pino.destination({ fd, sync: true });
  let pending: string[] = [];
  let bytes = 0;
  let scheduled = false;
  const flushSync = (): void => {
    scheduled = false;
    if (pending.length === 0) return;
    const text = pending.join("");
    pending = [];
    bytes = 0;
    out.write(text);
  };
  return {
    write(line: string): void {
      pending.push(line);
      bytes += line.length;
      if (exiting || bytes >= FLUSH_BYTES) flushSync();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flushSync);
      }
    },
    flushSync,
  };
}
