/**
 * POST /api/projects/:pid/ai/decision-draft: a decision record drafted by the model from the ideas
 * and reviews the caller names, saved as a draft decision that takes effect only when a person
 * approves it. The answer is untrusted: it must be the JSON asked for, and its title and sections
 * must pass the same text rules and limits as a node a person writes, or nothing is saved.
 */
import { z } from "zod";
import type { Principal } from "../../auth/principal.js";
import type { TenantDb } from "../../db/tenant-db.js";
import { DomainError } from "../../errors.js";
import { createNode, getNode, type NodeView } from "../../graph/nodes.js";
import type { GraphDeps } from "../../graph/projects.js";
import { lineSchema, multilineSchema } from "../../text.js";
import { BODY_MAX_CHARS, TITLE_MAX_CHARS } from "../../vocabulary/graph.js";
import { callModel, type AiDeps } from "../invoke.js";
import { ProviderError } from "../providers/provider.js";
import { promptMessages, type DataSection } from "../prompt.js";
import { doneEvent, requireInProject, textEvents, type AiEvent } from "./stream.js";

export const MAX_DRAFT_SOURCES = 20;
const SECTION_MAX_CHARS = Math.floor(BODY_MAX_CHARS / 4);

const INSTRUCTIONS =
  "You draft an architecture decision record from the ideas and reviews of a project. Answer with JSON " +
  'only: {"title":"<one line, at most 120 characters>","context":"…","decision":"…","consequences":"…"}, ' +
  "each section in plain prose or Markdown. Base it only on the data; where the data leaves a question " +
  "open, say so in the consequences.";

const ANSWER_FORMAT = {
  type: "object",
  properties: {
    title: { type: "string" },
    context: { type: "string" },
    decision: { type: "string" },
    consequences: { type: "string" },
  },
  required: ["title", "context", "decision", "consequences"],
  additionalProperties: false,
} as const;

const answerSchema = z.object({
  title: lineSchema({ max: TITLE_MAX_CHARS, trim: true }),
  context: multilineSchema({ max: SECTION_MAX_CHARS }),
  decision: multilineSchema({ max: SECTION_MAX_CHARS }),
  consequences: multilineSchema({ max: SECTION_MAX_CHARS }),
});

type DraftAnswer = z.output<typeof answerSchema>;

function sourceSection(node: NodeView): DataSection {
  return {
    kind: node.type,
    attributes: { id: node.id, status: node.status, ...(node.verdict ? { verdict: node.verdict } : {}) },
    text: `${node.title}\n\n${node.body}`,
  };
}

async function sourcesOf(
  graph: GraphDeps,
  tenantDb: TenantDb,
  principal: Principal,
  projectId: string,
  sourceIds: readonly string[],
): Promise<NodeView[]> {
  const nodes: NodeView[] = [];
  for (const id of new Set(sourceIds)) {
    const node = await getNode(graph, tenantDb, principal, id);
    requireInProject(node, projectId);
    if (node.type !== "idea" && node.type !== "review")
      throw new DomainError("rejected", `a decision is drafted from ideas and reviews; ${id} is a ${node.type}`);
    nodes.push(node);
  }
  return nodes;
}

/** The model's answer as a checked draft, or ProviderError "failed" naming what was wrong. */
export function parseDraft(answer: string, provider: ProviderError["provider"]): DraftAnswer {
  let json: unknown;
  try {
    json = JSON.parse(answer);
  } catch {
    throw new ProviderError("failed", provider, "the model's answer was not the JSON asked for; nothing was saved");
  }
  const parsed = answerSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join(".") || "answer";
    throw new ProviderError(
      "failed",
      provider,
      `the model's answer failed validation (${where}: ${issue?.message}); nothing was saved`,
    );
  }
  return parsed.data;
}

function body(draft: DraftAnswer): string {
  return `## Context\n\n${draft.context}\n\n## Decision\n\n${draft.decision}\n\n## Consequences\n\n${draft.consequences}\n`;
}

export async function* draftDecision(
  ai: AiDeps,
  graph: GraphDeps,
  tenantDb: TenantDb,
  principal: Principal,
  projectId: string,
  sourceIds: readonly string[],
  signal: AbortSignal,
): AsyncGenerator<AiEvent, void, undefined> {
  if (!principal.scopes.has("graph:write")) throw new DomainError("forbidden", "saving a draft needs graph:write");
  const sources = await sourcesOf(graph, tenantDb, principal, projectId, sourceIds);
  const messages = promptMessages(INSTRUCTIONS, sources.map(sourceSection));
  const call = callModel(
    ai,
    tenantDb,
    principal,
    { useCase: "decision-draft", projectId, messages, format: ANSWER_FORMAT },
    signal,
  );
  const result = yield* textEvents(call);
  const draft = parseDraft(result.text, result.provider);
  const node = await createNode(
    graph,
    tenantDb,
    principal,
    projectId,
    { type: "decision", title: draft.title, body: body(draft) },
    { draft: true },
  );
  yield { type: "draft", node, sources: sources.map((source) => source.id) };
  yield doneEvent(result);
}
