/**
 * A check on a streamed NDJSON body before the `ollama` client reads it: every line must be JSON
 * and no line may grow past a bound. The client itself prints each line it cannot parse on the
 * console and skips it, and buffers a line without end for as long as it comes; here the stream
 * fails instead, after passing on the lines before the bad one. Lines pass whole and unchanged.
 */

export const MAX_NDJSON_LINE_CHARS = 1 << 20;

function lineProblem(line: string): string | null {
  if (line.length > MAX_NDJSON_LINE_CHARS) return "a line longer than it accepts";
  if (line.trim() === "") return null;
  try {
    JSON.parse(line);
    return null;
  } catch {
    return "a line that is not JSON";
  }
}

export function ndjsonChecked(
  body: ReadableStream<Uint8Array>,
  unusable: (why: string) => Error,
): ReadableStream<Uint8Array> {
  const decoder = new TextDecoder("utf-8");
  const encoder = new TextEncoder();
  let pending = "";
  /** Passes the good lines on; false once a bad one has failed the stream. */
  const pass = (lines: readonly string[], controller: TransformStreamDefaultController<Uint8Array>): boolean => {
    const bad = lines.findIndex((line) => lineProblem(line) !== null);
    const good = bad === -1 ? lines : lines.slice(0, bad);
    if (good.length > 0) controller.enqueue(encoder.encode(good.map((line) => `${line}\n`).join("")));
    if (bad === -1) return true;
    controller.error(unusable(lineProblem(lines[bad] as string) as string));
    return false;
  };
  const guard = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      const lines = (pending + decoder.decode(chunk, { stream: true })).split("\n");
      pending = lines.pop() ?? "";
      if (pass(lines, controller) && pending.length > MAX_NDJSON_LINE_CHARS) {
        controller.error(unusable("a line longer than it accepts"));
      }
    },
    flush(controller) {
      const last = pending + decoder.decode();
      if (last !== "") pass([last], controller);
    },
  });
  return body.pipeThrough(guard);
}
