/** POST /api/projects/:pid/nodes/:nid/ai/summarize: a node with its neighbourhood, summarised by the tenant's model. */
import type { Principal } from "../../auth/principal.js";
import type { TenantDb } from "../../db/tenant-db.js";
import { neighbourhood, type Neighbourhood } from "../../graph/neighbourhood.js";
import type { GraphDeps } from "../../graph/projects.js";
import { callModel, type AiDeps } from "../invoke.js";
import { promptMessages, type DataSection } from "../prompt.js";
import { doneEvent, requireInProject, textEvents, type AiEvent } from "./stream.js";

const INSTRUCTIONS =
  "You summarise one node of a project graph (ideas, decisions, reviews, tasks, releases, notes) for a " +
  "member of the project. Write a short summary in plain prose (at most about 150 words): what the node " +
  "is, its status, and how it relates to its neighbours. Say only what the data supports.";

function sections(hood: Neighbourhood): DataSection[] {
  const { node } = hood;
  const own: DataSection = {
    kind: "node",
    attributes: { id: node.id, type: node.type, status: node.status },
    text: `${node.title}\n\n${node.body}`,
  };
  const neighbours = hood.neighbours.map((neighbour): DataSection => ({
    kind: "neighbour",
    attributes: {
      id: neighbour.node.id,
      type: neighbour.node.type,
      status: neighbour.node.status,
      edge: neighbour.edge.type,
      direction: neighbour.direction,
    },
    text: neighbour.node.title,
  }));
  return [own, ...neighbours];
}

export async function* summarizeNode(
  ai: AiDeps,
  graph: GraphDeps,
  tenantDb: TenantDb,
  principal: Principal,
  projectId: string,
  nodeId: string,
  signal: AbortSignal,
): AsyncGenerator<AiEvent, void, undefined> {
  const hood = await neighbourhood(graph, tenantDb, principal, nodeId);
  requireInProject(hood.node, projectId);
  const messages = promptMessages(INSTRUCTIONS, sections(hood));
  const call = callModel(ai, tenantDb, principal, { useCase: "summarize", projectId, messages }, signal);
  yield doneEvent(yield* textEvents(call));
}
