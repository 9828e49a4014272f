/** The SSE reader gives the same events however the network cuts the bytes, and refuses an event without end. */
import { describe, expect, it } from "vitest";
import { MAX_EVENT_CHARS, sseEvents, SseStreamError, type SseEvent } from "../../../src/ai/providers/sse.js";

async function* pieces(...chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) yield chunk;
}

async function read(chunks: AsyncIterable<Uint8Array>): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  for await (const event of sseEvents(chunks)) events.push(event);
  return events;
}

// LF, CRLF and lone CR line ends; a comment; a named event; multi-line data; no space after the colon;
// multi-byte characters (2, 3 and 4 bytes); an unknown field; an empty data field; a BOM at the start.
const STREAM =
  "\uFEFF: a comment\n\n" +
  'data: {"text":"é"}\n\n' +
  'event: content_block_delta\r\ndata: {"text":"✓ 😀"}\r\n\r\n' +
  "data:no space\rdata: second line\r\r" +
  "id: 7\nretry: 10\nfoo: bar\ndata:\n\n" +
  "event: message_stop\ndata: [DONE]\n\n";
const EXPECTED: SseEvent[] = [
  { event: null, data: '{"text":"é"}' },
  { event: "content_block_delta", data: '{"text":"✓ 😀"}' },
  { event: null, data: "no space\nsecond line" },
  { event: null, data: "" },
  { event: "message_stop", data: "[DONE]" },
];

describe("sse", () => {
  const bytes = new TextEncoder().encode(STREAM);

  it("reads LF, CR and CRLF line ends, comments, names, multi-line data, in one piece", async () => {
    expect(await read(pieces(bytes))).toEqual(EXPECTED);
  });

  it("gives the same events when the bytes are split at any one boundary", async () => {
    for (let at = 0; at <= bytes.length; at++) {
      expect(await read(pieces(bytes.subarray(0, at), bytes.subarray(at))), `split at byte ${at}`).toEqual(EXPECTED);
    }
  });

  it("gives the same events when the bytes arrive one at a time", async () => {
    const single = Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
    expect(await read(pieces(...single))).toEqual(EXPECTED);
  });

  it("drops an event the stream ended in the middle of", async () => {
    const cut = new TextEncoder().encode('data: {"a":1}\n\ndata: {"b":2}\n');
    expect(await read(pieces(cut))).toEqual([{ event: null, data: '{"a":1}' }]);
  });

  it("refuses an event that grows past the bound without ending", async () => {
    const flood = new TextEncoder().encode(`data: ${"x".repeat(MAX_EVENT_CHARS + 1)}`);
    await expect(read(pieces(flood))).rejects.toBeInstanceOf(SseStreamError);
  });
});
