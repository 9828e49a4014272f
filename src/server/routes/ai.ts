/**
 * AI governance: the tenant's provider settings, the models the local Ollama has, the features
 * that stream NDJSON (src/server/ndjson.ts) and the recorded calls. Each feature is the domain's
 * (src/ai/); the handlers only pass the caller and the request's signal along.
 */
import { z } from "zod";
import { MAX_DRAFT_SOURCES } from "../../ai/features/decision-draft.js";
import { PROVIDER_IDS, type AiUseCaseSetting, type ExternalProviderId } from "../../vocabulary/ai.js";
import type { AppDeps } from "../deps.js";
import { principalOf, tenantDbOf } from "../middleware/require-scope.js";
import { clientGone } from "../client-gone.js";
import { ndjsonResponse } from "../ndjson.js";
import { ApiRouter, defineRoute } from "../route.js";
import { idSchema, lineSchema, nothingToChange } from "./schemas.js";
import { SECRET_NAME_PATTERN, SECRET_NAME_RULE } from "../../secrets/secrets.js";

const choiceSchema = z.strictObject({
  provider: z.enum(PROVIDER_IDS),
  model: lineSchema({ max: 200, trim: true }).meta({ description: 'the provider\'s model name, e.g. "llama3.2:3b"' }),
});
const useCaseChoice = choiceSchema.nullable().optional();
const providerSetting = z
  .strictObject({ enabled: z.boolean(), apiKeySecret: z.string().regex(SECRET_NAME_PATTERN, SECRET_NAME_RULE) })
  .optional();
const settingsChangeSchema = nothingToChange(
  z.strictObject({
    useCases: z
      .strictObject({
        default: useCaseChoice,
        summarize: useCaseChoice,
        links: useCaseChoice,
        "decision-draft": useCaseChoice,
      } satisfies Record<AiUseCaseSetting, unknown>)
      .optional()
      .meta({ description: "per use case (and default): the provider and model; null removes the setting" }),
    providers: z
      .strictObject({
        openai: providerSetting,
        anthropic: providerSetting,
        google: providerSetting,
      } satisfies Record<ExternalProviderId, unknown>)
      .optional()
      .meta({ description: "external providers: enabled or not, and the tenant secret holding the API key" }),
  }),
);
const draftSchema = z.strictObject({
  sources: z
    .array(idSchema)
    .min(1)
    .max(MAX_DRAFT_SOURCES)
    .meta({ description: "the ideas and reviews of the project to draft the decision from" }),
});

const tags = ["ai"];
const streamed = {
  200: { description: "NDJSON events: text…, the feature's result, done (or error); see docs/ai.md" },
};

export function aiRoutes(deps: AppDeps): ApiRouter {
  const router = new ApiRouter(deps.identity.authenticator);
  const settingsResponses = { 200: { description: "the tenant's AI settings, with each provider's policies" } };
  defineRoute(
    router,
    {
      method: "get",
      path: "/api/ai/settings",
      operationId: "getAiSettings",
      summary: "The tenant's AI providers and models per use case, with each provider's cache and storage policy",
      tags,
      scopes: ["tenant:admin"],
      reads: "content",
      responses: settingsResponses,
    },
    (c) => c.json(deps.ai.settings(tenantDbOf(deps, c))),
  );
  defineRoute(
    router,
    {
      method: "put",
      path: "/api/ai/settings",
      operationId: "updateAiSettings",
      summary:
        "Change the tenant's AI providers and models (a person who is tenant admin; audited as ai.settings_changed)",
      tags,
      scopes: ["tenant:admin"],
      body: settingsChangeSchema,
      responses: settingsResponses,
    },
    async (c, { body }) => c.json(await deps.ai.updateSettings(tenantDbOf(deps, c), principalOf(c), body)),
  );
  defineRoute(
    router,
    {
      method: "get",
      path: "/api/ai/models",
      operationId: "listAiModels",
      summary: "The models the configured Ollama has (503 naming its address when it does not answer)",
      tags,
      scopes: ["ai:invoke"],
      reads: "content",
      responses: { 200: { description: "the models" } },
    },
    async (c) => c.json({ models: await deps.ai.models(clientGone(c)) }),
  );
  defineRoute(
    router,
    {
      method: "get",
      path: "/api/ai/calls/:callId",
      operationId: "getAiCall",
      summary: "A recorded call to a language model, with its payload while retained (auditors)",
      tags,
      scopes: ["audit:security"],
      reads: "sensitive",
      responses: { 200: { description: "the call and its payload (null once the retention ended)" } },
    },
    async (c, { params }) => c.json({ call: await deps.ai.call(tenantDbOf(deps, c), principalOf(c), params.callId) }),
  );
  featureRoutes(router, deps);
  return router;
}

function featureRoutes(router: ApiRouter, deps: AppDeps): void {
  defineRoute(
    router,
    {
      method: "post",
      path: "/api/projects/:projectId/nodes/:nodeId/ai/summarize",
      operationId: "summarizeNode",
      summary: "Summarise a node and its neighbourhood with the tenant's model (NDJSON stream)",
      tags,
      scopes: ["graph:read", "ai:invoke"],
      responses: streamed,
    },
    (c, { params }) =>
      ndjsonResponse(c, deps, (signal) =>
        deps.ai.summarize(tenantDbOf(deps, c), principalOf(c), params.projectId, params.nodeId, signal),
      ),
  );
  defineRoute(
    router,
    {
      method: "post",
      path: "/api/projects/:projectId/nodes/:nodeId/ai/links",
      operationId: "proposeLinks",
      summary: "Typed edges the model proposes for a node, validated, as suggestions (NDJSON stream; nothing stored)",
      tags,
      scopes: ["graph:read", "ai:invoke"],
      responses: streamed,
    },
    (c, { params }) =>
      ndjsonResponse(c, deps, (signal) =>
        deps.ai.links(tenantDbOf(deps, c), principalOf(c), params.projectId, params.nodeId, signal),
      ),
  );
  defineRoute(
    router,
    {
      method: "post",
      path: "/api/projects/:projectId/ai/decision-draft",
      operationId: "draftDecision",
      summary: "A decision drafted by the model from ideas and reviews, saved as a draft node (NDJSON stream)",
      tags,
      scopes: ["graph:read", "graph:write", "ai:invoke"],
      body: draftSchema,
      responses: streamed,
    },
    (c, { params, body }) =>
      ndjsonResponse(c, deps, (signal) =>
        deps.ai.decisionDraft(tenantDbOf(deps, c), principalOf(c), params.projectId, body.sources, signal),
      ),
  );
}
