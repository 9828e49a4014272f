/**
 * Server-sent events (text/event-stream) as the external providers stream them: events separated by
 * a blank line, `event:` and `data:` fields, `:` comments, LF, CR or CRLF line ends, and a network
 * chunk boundary anywhere, even inside a line ending or a multi-byte character. The field grammar
 * is eventsource-parser's (MIT, the MCP SDK's own dependency); this module adds the byte decoding,
 * a bound on what one event may buffer, and the rule that an event cut off by the end of the
 * stream is dropped, not delivered (WHATWG HTML §9.2.6: only a blank line dispatches).
 */
import { createParser, type EventSourceMessage } from "eventsource-parser";

export interface SseEvent {
  /** The `event:` field, or null when the event named none. */
  readonly event: string | null;
  /** The `data:` lines joined by "\n". */
  readonly data: string;
}

/** A stream that cannot be read as SSE: one event grew past the bound without ending. */
export class SseStreamError extends Error {
  override readonly name = "SseStreamError";
}

/** No provider event comes near this (a chunk of text, a usage record); a stream that does is refused before it fills memory. */
export const MAX_EVENT_CHARS = 1024 * 1024;

/** The events of a byte stream, in order, each as soon as its closing blank line has arrived. */
export async function* sseEvents(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<SseEvent> {
  // The decoder holds back a character split across chunks and drops a leading BOM, as SSE requires.
  const decoder = new TextDecoder("utf-8");
  const ready: SseEvent[] = [];
  let overflow = false;
  const parser = createParser({
    onEvent: (message: EventSourceMessage) => ready.push({ event: message.event ?? null, data: message.data }),
    onError: (error) => {
      if (error.type === "max-buffer-size-exceeded") overflow = true;
    },
    maxBufferSize: MAX_EVENT_CHARS,
  });
  const take = (text: string): SseEvent[] => {
    if (!overflow) parser.feed(text);
    if (overflow) throw new SseStreamError(`an event grew past ${MAX_EVENT_CHARS} characters without ending`);
    return ready.splice(0);
  };
  for await (const chunk of chunks) yield* take(decoder.decode(chunk, { stream: true }));
  yield* take(decoder.decode());
}
