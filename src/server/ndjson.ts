/**
 * Answers streamed as NDJSON (application/x-ndjson): one JSON object per line, written as the
 * domain yields them (the AI features). The first event is awaited before the status is chosen,
 * so a failure before anything was produced (the provider unreachable, a refusal, a node not
 * found) is an ordinary problem+json answer with its status. A failure after that can no longer
 * change the status: it becomes a last line `{"type":"error","problem":{…}}` carrying the same
 * problem, and the stream ends. A client that goes away aborts `signal`, and the producer is
 * closed, which ends the work it started (the model's request included).
 *
 * Lines leave through streamedBody: each waits until what was committed before it is durable.
 */
import type { Context } from "hono";
import type { AppDeps, AppEnv } from "./deps.js";
import { clientGone } from "./client-gone.js";
import { toProblem } from "./error-mapping.js";
import { problemBody, ProblemError } from "./problem.js";
import { streamedBody } from "./streamed.js";

export const NDJSON_CONTENT_TYPE = "application/x-ndjson";

/** The producer of a streamed answer, given the signal that says the client went away. */
export type EventProducer = (signal: AbortSignal) => AsyncGenerator<object, void, undefined>;

const encoder = new TextEncoder();

function line(event: object): Uint8Array {
  return encoder.encode(`${JSON.stringify(event)}\n`);
}

function errorLine(c: Context<AppEnv>, error: unknown, log: AppDeps["log"]): Uint8Array {
  const problem =
    toProblem(error) ??
    new ProblemError(500, "internal-error", "the request failed; quote the request id to your administrator");
  if (problem.status >= 500) {
    const { name, message } = error instanceof Error ? error : new Error(String(error));
    log.warn({ requestId: c.get("requestId"), error: { name, message } }, "a streamed answer failed midway");
  }
  const requestId = c.get("requestId");
  const body = problemBody(problem.status, problem.kind, problem.detail, {
    ...problem.extensions,
    ...(requestId ? { requestId } : {}),
  });
  return line({ type: "error", problem: body });
}

export async function ndjsonResponse(
  c: Context<AppEnv>,
  deps: Pick<AppDeps, "log" | "durability">,
  produce: EventProducer,
): Promise<Response> {
  const cancelled = new AbortController();
  const events = produce(AbortSignal.any([clientGone(c), cancelled.signal]));
  // Thrown here, a failure before the first event is the app's problem answer with its own status.
  const first = await events.next();
  let finished = first.done === true;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      if (first.done !== true) controller.enqueue(line(first.value));
    },
    async pull(controller) {
      if (finished) return controller.close();
      try {
        const next = await events.next();
        if (next.done === true) {
          finished = true;
          controller.close();
        } else controller.enqueue(line(next.value));
      } catch (error) {
        finished = true;
        controller.enqueue(errorLine(c, error, deps.log));
        controller.close();
      }
    },
    async cancel(reason) {
      cancelled.abort(reason);
      await events.return(undefined);
    },
  });
  c.header("Content-Type", NDJSON_CONTENT_TYPE);
  c.header("Cache-Control", "no-store");
  return streamedBody(c, body, deps, "a streamed AI answer");
}
