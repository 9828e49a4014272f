/**
 * The few JSON calls bench/http.bench.ts makes to set things up, over HTTPS to 127.0.0.1 with the
 * servers' self-signed certificate accepted (node:https: fetch has no per-request TLS option).
 * test/serve-client.ts does the same for tests, but asserts with vitest, which a bench cannot load.
 */
import { request } from "node:https";

export interface Answer {
  readonly status: number;
  readonly body: string;
}

export type Call = (method: string, path: string, options?: { token?: string; body?: unknown }) => Promise<Answer>;

export function client(port: number): Call {
  return (method, path, options = {}) =>
    new Promise((resolve, reject) => {
      const data = options.body === undefined ? undefined : JSON.stringify(options.body);
      const headers: Record<string, string | number> = {};
      if (options.token !== undefined) headers.Authorization = `Bearer ${options.token}`;
      if (data !== undefined) {
        headers["Content-Type"] = "application/json";
        headers["Content-Length"] = Buffer.byteLength(data);
      }
      const req = request(
        { host: "127.0.0.1", port, path, method, headers, rejectUnauthorized: false, agent: false },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("error", reject);
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        },
      );
      req.on("error", reject);
      req.end(data);
    });
}

/** The parsed body of an answer with the expected status; anything else fails the bench with the answer. */
export async function expectJson<T>(answer: Promise<Answer>, status: number, what: string): Promise<T> {
  const res = await answer;
  if (res.status !== status)
    throw new Error(`${what}: expected ${status}, got ${res.status} ${res.body.slice(0, 300)}`);
  return JSON.parse(res.body) as T;
}
