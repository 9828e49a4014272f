/**
 * What an AI feature streams to its client, one JSON object per NDJSON line: the model's text as it
 * arrives, then what the feature made of it (validated suggestions, a saved draft), then `done`
 * with the recorded call's id and token counts. A failure after the first line becomes an
 * `error` line carrying a problem (src/server/ndjson.ts).
 */
import { DomainError } from "../../errors.js";
import type { NodeView } from "../../graph/nodes.js";
import type { EdgeType } from "../../vocabulary/graph.js";
import type { ModelCallResult } from "../invoke.js";
import type { ChatUsage, ProviderId } from "../providers/provider.js";

export interface SuggestedEdge {
  readonly type: EdgeType;
  readonly from: string;
  readonly to: string;
  /** The model's one-line reason: untrusted text, validated as any title would be. */
  readonly reason: string;
}

export type AiEvent =
  | { readonly type: "text"; readonly text: string }
  | { readonly type: "suggestions"; readonly edges: readonly SuggestedEdge[]; readonly rejected: number }
  | { readonly type: "draft"; readonly node: NodeView; readonly sources: readonly string[] }
  | {
      readonly type: "done";
      readonly callId: string;
      readonly provider: ProviderId;
      readonly model: string;
      readonly usage: ChatUsage;
    };

/**
 * The model's text as `text` events; returns the call's result. Leaving early (the client went
 * away) closes the call, which aborts the request and records it.
 */
export async function* textEvents(
  call: AsyncGenerator<string, ModelCallResult, undefined>,
): AsyncGenerator<AiEvent, ModelCallResult, undefined> {
  try {
    let next = await call.next();
    while (next.done !== true) {
      yield { type: "text", text: next.value };
      next = await call.next();
    }
    return next.value;
  } finally {
    await call.return(undefined as never);
  }
}

export function doneEvent(result: ModelCallResult): AiEvent {
  return { type: "done", callId: result.callId, provider: result.provider, model: result.model, usage: result.usage };
}

/** A node named under a project's path must be in that project; otherwise it is not found there. */
export function requireInProject(node: { readonly projectId: string }, projectId: string): void {
  if (node.projectId !== projectId) throw new DomainError("not-found", "no such node");
}
