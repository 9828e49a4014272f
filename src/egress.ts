/**
 * The only module allowed to open outbound connections.
 *
 * Every outbound request names its purpose and is checked against an allow-list: loopback
 * (where a local Ollama lives) plus the host:port pairs an operator configured. Anything else
 * is refused before a socket is opened. A test fails if another file in src/ reaches the
 * network by any other path.
 */
import { isIP } from "node:net";
import type { Logger } from "./log.js";

export class EgressDeniedError extends Error {
  override readonly name = "EgressDeniedError";
}

export interface EgressPolicy {
  /** Extra "host:port" pairs allowed beyond loopback. */
  readonly allow: readonly string[];
}

function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  if (host === "localhost" || host === "::1") return true;
  return isIP(host) === 4 && host.startsWith("127.");
}

function defaultPort(protocol: string): string {
  return protocol === "https:" ? "443" : "80";
}

/** Throws EgressDeniedError unless the URL may be reached under this policy. */
export function checkEgress(policy: EgressPolicy, target: URL): void {
  if (target.protocol !== "http:" && target.protocol !== "https:") {
    throw new EgressDeniedError(`egress to ${target.protocol} URLs is not allowed`);
  }
  if (isLoopback(target.hostname)) return;
  const hostPort = `${target.hostname.toLowerCase()}:${target.port || defaultPort(target.protocol)}`;
  if (!policy.allow.includes(hostPort)) {
    throw new EgressDeniedError(`egress to ${hostPort} is not on the allow-list (VECTO_EGRESS_ALLOW)`);
  }
}

export interface Egress {
  fetch(purpose: string, url: string | URL, init?: RequestInit): Promise<Response>;
}

/** The outbound path for the whole process. Redirects are not followed: each hop would need its own check. */
export function createEgress(policy: EgressPolicy, log?: Logger): Egress {
  return {
    async fetch(purpose, url, init) {
      const target = new URL(url);
      try {
        checkEgress(policy, target);
      } catch (error) {
        log?.warn({ purpose, host: target.host }, "outbound connection refused by the egress allow-list");
        throw error;
      }
      log?.debug({ purpose, host: target.host }, "outbound request");
      return globalThis.fetch(target, { ...init, redirect: "manual" });
    },
  };
}
