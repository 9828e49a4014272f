/**
 * A governed call to a language model: the one way the appliance reaches one. It resolves the
 * tenant's provider and model for the use case, refuses what the settings or an air-gapped
 * appliance forbid, opens an external provider's API key only for the call, streams the answer
 * under a timeout and the caller's signal, and records the call however it ends: an ai_calls row
 * and its ai.invoked audit event in one transaction, with the payload (request as sent, answer)
 * sealed with the tenant's key for the configured retention.
 */
import { createHash, randomUUID } from "node:crypto";
import { actorOf, type Principal } from "../auth/principal.js";
import type { CryptoService } from "../crypto/index.js";
import type { TenantDb } from "../db/tenant-db.js";
import { DomainError } from "../errors.js";
import { useSecret } from "../secrets/secrets.js";
import type { AiCallOutcome, AiUseCase, ProviderId } from "../vocabulary/ai.js";
import {
  ProviderError,
  type ChatMessage,
  type ChatProvider,
  type ChatRequest,
  type ChatUsage,
} from "./providers/provider.js";
import { aiPayloadRef } from "./calls.js";
import { resolveUseCase, type AiPlatform } from "./settings.js";

/** Builds the adapter for a provider; apiKey is the external provider's key, null for Ollama. */
export type ProviderConnector = (provider: ProviderId, apiKey: string | null) => ChatProvider;

export interface AiDeps {
  readonly crypto: CryptoService;
  readonly platform: AiPlatform;
  readonly connect: ProviderConnector;
  /** The longest a call may take, first byte to last (VECTO_AI_TIMEOUT_SECONDS). */
  readonly timeoutMs: number;
  /** How long a call's payload is kept, sealed; 0 keeps none (VECTO_AI_PAYLOAD_RETENTION_DAYS). */
  readonly payloadRetentionDays: number;
}

export interface ModelCallInput {
  readonly useCase: AiUseCase;
  readonly projectId: string;
  readonly messages: readonly ChatMessage[];
  readonly format?: ChatRequest["format"];
  readonly maxOutputTokens?: number;
}

export interface ModelCallResult {
  readonly callId: string;
  readonly provider: ProviderId;
  readonly model: string;
  readonly text: string;
  readonly usage: ChatUsage;
}

const NO_USAGE: ChatUsage = { promptTokens: null, outputTokens: null };
const DAY_MS = 24 * 60 * 60 * 1000;

/** What is known of a call when it ends, to be recorded. */
interface CallFacts {
  readonly id: string;
  readonly provider: ProviderId;
  readonly model: string;
  readonly outcome: AiCallOutcome;
  readonly sent: string | null;
  readonly output: string;
  readonly usage: ChatUsage;
  readonly durationMs: number;
}

async function record(
  deps: AiDeps,
  tenantDb: TenantDb,
  principal: Principal,
  input: ModelCallInput,
  facts: CallFacts,
): Promise<void> {
  const sentBytes = facts.sent === null ? 0 : Buffer.byteLength(facts.sent, "utf8");
  const sha256 = facts.sent === null ? null : createHash("sha256").update(facts.sent, "utf8").digest("hex");
  const keep = facts.sent !== null && deps.payloadRetentionDays > 0;
  const payloadEnc = keep
    ? await deps.crypto.encryptField(
        tenantDb.tenantId,
        aiPayloadRef(facts.id),
        JSON.stringify({ request: facts.sent, output: facts.output }),
      )
    : null;
  await tenantDb.write((tx) => {
    const expires = keep ? new Date(Date.parse(tx.now) + deps.payloadRetentionDays * DAY_MS).toISOString() : null;
    tx.aiCalls.insert({
      id: facts.id,
      projectId: input.projectId,
      actorType: principal.actorKind,
      actorId: principal.userId,
      useCase: input.useCase,
      provider: facts.provider,
      model: facts.model,
      outcome: facts.outcome,
      payloadSha256: sha256,
      payloadBytes: sentBytes,
      promptTokens: facts.usage.promptTokens,
      outputTokens: facts.usage.outputTokens,
      durationMs: facts.durationMs,
      createdAt: tx.now,
      payloadEnc,
      payloadExpiresAt: expires,
    });
    tx.audit({
      event: "ai.invoked",
      sensitivity: "normal",
      severity: facts.outcome === "ok" ? "info" : "warn",
      tenantId: tenantDb.tenantId,
      actor: actorOf(principal),
      payload: {
        callId: facts.id,
        provider: facts.provider,
        model: facts.model,
        useCase: input.useCase,
        projectId: input.projectId,
        payloadSha256: sha256,
        payloadBytes: sentBytes,
        promptTokens: facts.usage.promptTokens,
        outputTokens: facts.usage.outputTokens,
        durationMs: facts.durationMs,
        outcome: facts.outcome,
      },
    });
  });
}

function outcomeOf(error: unknown, signal: AbortSignal): AiCallOutcome {
  if (error instanceof ProviderError) return error.failure;
  return signal.aborted ? "aborted" : "failed";
}

async function connect(
  deps: AiDeps,
  tenantDb: TenantDb,
  provider: ProviderId,
  secret: string | null,
): Promise<ChatProvider> {
  if (secret === null) return deps.connect(provider, null);
  // The key is opened for this call only: the adapter holds it until the call ends, nothing keeps it.
  return useSecret(deps, tenantDb, secret, async (apiKey) => deps.connect(provider, apiKey));
}

/**
 * Streams the answer's text; returns the call's result once the model is done. Throws
 * ProviderError when the provider is refused or fails (recorded either way), DomainError when the
 * caller may not call a model or the use case has no model configured (nothing is sent then).
 * Stopping the iteration early (the client went away) aborts the request and records "aborted".
 */
export async function* callModel(
  deps: AiDeps,
  tenantDb: TenantDb,
  principal: Principal,
  input: ModelCallInput,
  signal: AbortSignal,
): AsyncGenerator<string, ModelCallResult, undefined> {
  if (!principal.scopes.has("ai:invoke"))
    throw new DomainError("forbidden", "calling a language model needs ai:invoke");
  const started = performance.now();
  const choice = resolveUseCase(deps.platform, tenantDb, input.useCase);
  const facts = { id: randomUUID(), provider: choice.provider, model: choice.model };
  let outcome: AiCallOutcome = "aborted";
  let sent: string | null = null;
  let output = "";
  let usage = NO_USAGE;
  const callSignal = AbortSignal.any([signal, AbortSignal.timeout(deps.timeoutMs)]);
  // Ends the provider's request when this generator is left early (return()), not only on abort.
  const local = new AbortController();
  try {
    if (choice.refusal !== null) throw new ProviderError("refused", choice.provider, choice.refusal);
    const provider = await connect(deps, tenantDb, choice.provider, choice.apiKeySecret);
    const request: ChatRequest = {
      model: choice.model,
      messages: input.messages,
      ...(input.format ? { format: input.format } : {}),
      ...(input.maxOutputTokens ? { maxOutputTokens: input.maxOutputTokens } : {}),
    };
    const options = { signal: AbortSignal.any([callSignal, local.signal]), sent: (body: string) => (sent = body) };
    for await (const part of provider.chat(request, options)) {
      if (part.kind === "usage") usage = part.usage;
      else {
        output += part.text;
        yield part.text;
      }
    }
    outcome = "ok";
    return { callId: facts.id, provider: choice.provider, model: choice.model, text: output, usage };
  } catch (error) {
    outcome = outcomeOf(error, signal);
    // Refused before it left (the egress guard): nothing was sent, whatever the adapter had prepared.
    if (outcome === "refused") sent = null;
    throw error;
  } finally {
    local.abort();
    const durationMs = Math.round(performance.now() - started);
    await record(deps, tenantDb, principal, input, { ...facts, outcome, sent, output, usage, durationMs });
  }
}
