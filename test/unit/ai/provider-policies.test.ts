/** The policies shown in the tenant's AI settings (datasheet 8.4): one per provider, each sourced and dated. */
import { describe, expect, it } from "vitest";
import { PROVIDER_POLICIES } from "../../../src/ai/providers/policies.js";
import { isExternalProvider, PROVIDER_IDS } from "../../../src/vocabulary/ai.js";

describe("provider policies", () => {
  it("has one entry per provider, under its own id", () => {
    expect(Object.keys(PROVIDER_POLICIES).sort()).toEqual([...PROVIDER_IDS].sort());
    for (const id of PROVIDER_IDS) expect(PROVIDER_POLICIES[id].provider).toBe(id);
  });

  it("marks exactly the external providers as sending data out", () => {
    for (const id of PROVIDER_IDS) expect(PROVIDER_POLICIES[id].external, id).toBe(isExternalProvider(id));
  });

  it("gives every entry its texts, https sources and a real date", () => {
    for (const policy of Object.values(PROVIDER_POLICIES)) {
      for (const text of [policy.promptCache, policy.storage, policy.training]) expect(text.length).toBeGreaterThan(20);
      expect(policy.sources.length).toBeGreaterThan(0);
      for (const source of policy.sources) expect(new URL(source.url).protocol).toBe("https:");
      expect(policy.asOf).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(new Date(`${policy.asOf}T00:00:00Z`).toISOString().slice(0, 10)).toBe(policy.asOf);
    }
  });

  it("says where sources conflict (Anthropic's retention) rather than picking one silently", () => {
    expect(PROVIDER_POLICIES.anthropic.conflicting).toContain("30 days");
    expect(PROVIDER_POLICIES.anthropic.conflicting).toContain("7 days");
  });
});
