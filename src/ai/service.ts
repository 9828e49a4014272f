/**
 * The AI governance domain as the HTTP side calls it, bound to its dependencies by the
 * composition root (src/services.ts): settings, the models Ollama has, the streamed features and
 * the recorded calls.
 */
import type { Principal } from "../auth/principal.js";
import type { TenantDb } from "../db/tenant-db.js";
import type { GraphDeps } from "../graph/projects.js";
import { readAiCall, type AiCallView } from "./calls.js";
import { draftDecision } from "./features/decision-draft.js";
import { proposeLinks } from "./features/links.js";
import type { AiEvent } from "./features/stream.js";
import { summarizeNode } from "./features/summarize.js";
import type { AiDeps } from "./invoke.js";
import type { ModelInfo } from "./providers/provider.js";
import { aiSettings, updateAiSettings, type AiSettingsChange, type AiSettingsView } from "./settings.js";

export interface AiServiceDeps extends AiDeps {
  readonly graph: GraphDeps;
  /** The models the configured Ollama has (GET /api/tags through src/egress.ts). */
  readonly ollamaModels: (signal: AbortSignal) => Promise<ModelInfo[]>;
}

type Feature<A extends unknown[]> = (
  tenantDb: TenantDb,
  principal: Principal,
  ...args: [...A, AbortSignal]
) => AsyncGenerator<AiEvent, void, undefined>;

export interface AiService {
  settings(tenantDb: TenantDb): AiSettingsView;
  updateSettings(tenantDb: TenantDb, principal: Principal, change: AiSettingsChange): Promise<AiSettingsView>;
  models(signal: AbortSignal): Promise<ModelInfo[]>;
  readonly summarize: Feature<[projectId: string, nodeId: string]>;
  readonly links: Feature<[projectId: string, nodeId: string]>;
  readonly decisionDraft: Feature<[projectId: string, sourceIds: readonly string[]]>;
  call(tenantDb: TenantDb, principal: Principal, callId: string): Promise<AiCallView>;
}

/** Listing models is quick or broken: a short bound of its own, not the generation timeout. */
const MODELS_TIMEOUT_MS = 10_000;

export function aiService(deps: AiServiceDeps): AiService {
  const { graph, platform } = deps;
  return {
    settings: (tenantDb) => aiSettings(platform, tenantDb),
    updateSettings: (tenantDb, principal, change) => updateAiSettings(platform, tenantDb, principal, change),
    models: (signal) => deps.ollamaModels(AbortSignal.any([signal, AbortSignal.timeout(MODELS_TIMEOUT_MS)])),
    summarize: (tenantDb, principal, projectId, nodeId, signal) =>
      summarizeNode(deps, graph, tenantDb, principal, projectId, nodeId, signal),
    links: (tenantDb, principal, projectId, nodeId, signal) =>
      proposeLinks(deps, graph, tenantDb, principal, projectId, nodeId, signal),
    decisionDraft: (tenantDb, principal, projectId, sourceIds, signal) =>
      draftDecision(deps, graph, tenantDb, principal, projectId, sourceIds, signal),
    call: (tenantDb, principal, callId) => readAiCall(deps.crypto, tenantDb, principal, callId),
  };
}
