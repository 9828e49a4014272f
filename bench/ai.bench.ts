/**
 * What an AI call costs the appliance itself (issue 16 point 9), not the model: the real
 * appliance (`node dist/vecto.cjs serve`, over HTTPS on 127.0.0.1) in front of the
 * Ollama-compatible test server (test/fixtures/ollama-server.ts), which answers at once, so what
 * is left is the appliance's own work: authentication, the node and its neighbourhood read and
 * decrypted, the prompt built, the request through the egress guard and the ollama client, the
 * NDJSON relayed, the call sealed, recorded and audited.
 *
 * - direct: the bench process asks the test server itself for the same answer (POST /api/chat,
 *   streamed, with a prompt of the same size), the baseline.
 * - appliance: POST /api/projects/:pid/nodes/:nid/ai/summarize.
 * Each is timed to its first byte and to its last, in alternating blocks (bench/stats.ts `pair`).
 * The overhead per call is the difference of the medians, and the first-byte ratio their quotient.
 * The direct side reuses one plain HTTP connection while each appliance request opens its own TLS
 * connection; so the summary also sets the first byte against the direct call plus a plain
 * authenticated GET /api/nodes/:id over TLS, which leaves the AI path's own work. The whole call
 * includes recording it (ai_calls row and ai.invoked, made durable before `done` is sent).
 *
 * And MCP: a node read through POST /mcp (tools/call read_node) against the same read through
 * GET /api/nodes/:id, both over HTTPS, to show what the MCP door adds to a request.
 *
 * Settings: BENCH_AI_CALLS (200), BENCH_AI_CHUNKS (20: chunks in each answer).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startOllamaServer, type OllamaServer } from "../test/fixtures/ollama-server.js";
import { ensureBundle } from "./http/build.js";
import { startAppliance, type Appliance } from "./http/appliance.js";
import { client, expectJson } from "./http/client.js";
import { pair, round, stats, type Stats } from "./stats.js";

const CALLS = Number(process.env.BENCH_AI_CALLS ?? 200);
const CHUNKS = Number(process.env.BENCH_AI_CHUNKS ?? 20);
const WARMUP = 20;
const BLOCK = 10;

interface Timing {
  readonly firstByteMs: number;
  readonly totalMs: number;
}

/** One request, timed to its first body byte and to its end; fails on a status other than 200. */
function timed(
  send: (onResponse: (status: number, stream: NodeJS.ReadableStream) => void) => { end(body: string): void },
  body: string,
): Promise<Timing> {
  return new Promise((resolvePromise, reject) => {
    const t0 = performance.now();
    let first = 0;
    const req = send((status, stream) => {
      if (status !== 200) reject(new Error(`status ${status}`));
      stream.on("data", () => {
        if (first === 0) first = performance.now() - t0;
      });
      stream.on("end", () => resolvePromise({ firstByteMs: first, totalMs: performance.now() - t0 }));
      stream.on("error", reject);
    });
    req.end(body);
  });
}

function overHttps(port: number, path: string, headers: Record<string, string>, body: string): Promise<Timing> {
  return timed((onResponse) => {
    const req = httpsRequest(
      {
        host: "127.0.0.1",
        port,
        path,
        method: "POST",
        headers: { ...headers, "Content-Length": String(Buffer.byteLength(body)) },
        rejectUnauthorized: false,
        agent: false,
      },
      (res) => onResponse(res.statusCode ?? 0, res),
    );
    req.on("error", () => undefined);
    return req;
  }, body);
}

async function overFetch(url: string, body: string): Promise<Timing> {
  const t0 = performance.now();
  const res = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body });
  if (res.status !== 200 || res.body === null) throw new Error(`direct: status ${res.status}`);
  let first = 0;
  for await (const chunk of res.body)
    if (first === 0 && (chunk as Uint8Array).length > 0) first = performance.now() - t0;
  return { firstByteMs: first, totalMs: performance.now() - t0 };
}

/** Runs both sides paired, collecting first-byte times beside the totals pair() measures. */
async function measure(
  a: () => Promise<Timing>,
  b: () => Promise<Timing>,
): Promise<{ a: Stats; b: Stats; aFirstByte: Stats; bFirstByte: Stats }> {
  const firstA: number[] = [];
  const firstB: number[] = [];
  const totals = await pair(
    async () => void firstA.push((await a()).firstByteMs),
    async () => void firstB.push((await b()).firstByteMs),
    CALLS,
    WARMUP,
    BLOCK,
  );
  // pair() runs WARMUP untimed calls of each side first: their first bytes are not counted either.
  const firstByte = (samples: number[]): Stats => stats(samples.slice(WARMUP));
  return { ...totals, aFirstByte: firstByte(firstA), bFirstByte: firstByte(firstB) };
}

async function setUp(ollama: OllamaServer, dir: string): Promise<{ appliance: Appliance; nodeId: string }> {
  const bundle = ensureBundle(resolve(process.cwd()));
  const appliance = await startAppliance([process.execPath, bundle.path], dir, { VECTO_OLLAMA_URL: ollama.url });
  const call = client(appliance.server.port);
  const token = appliance.jwt;
  await expectJson(
    call("PUT", "/api/ai/settings", {
      token,
      body: { useCases: { default: { provider: "ollama", model: "llama3.2:latest" } } },
    }),
    200,
    "ai settings",
  );
  const [nodeId = "", ...others] = appliance.nodeIds;
  // A neighbourhood of five, as a node in a real graph has.
  for (const other of others.slice(0, 5))
    await expectJson(
      call("POST", `/api/projects/${appliance.projectId}/edges`, {
        token,
        body: { type: "relates", from: nodeId, to: other },
      }),
      201,
      "edge",
    );
  return { appliance, nodeId };
}

export async function run(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), "vecto-bench-ai-"));
  const words = Array.from({ length: CHUNKS }, (_, i) => `word${i} `);
  const ollama = await startOllamaServer({ reply: words });
  let appliance: Appliance | undefined;
  try {
    const setup = await setUp(ollama, dir);
    appliance = setup.appliance;
    const port = appliance.server.port;
    const auth = { Authorization: `Bearer ${appliance.jwt}` };
    const summarizePath = `/api/projects/${appliance.projectId}/nodes/${setup.nodeId}/ai/summarize`;
    // The baseline sends what the appliance sent, byte for byte.
    await overHttps(port, summarizePath, auth, "");
    const sent = ollama.requestsTo("/api/chat").at(-1)?.rawBody ?? "";
    const ai = await measure(
      () => overFetch(`${ollama.url}/api/chat`, sent),
      () => overHttps(port, summarizePath, auth, ""),
    );

    const mcpBody = JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: "read_node", arguments: { nodeId: setup.nodeId } },
    });
    const mcpHeaders = {
      ...auth,
      "Content-Type": "application/json",
      Accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2025-06-18",
    };
    const readNode = (): Promise<Timing> =>
      timed((onResponse) => {
        const req = httpsRequest(
          {
            host: "127.0.0.1",
            port,
            path: `/api/nodes/${setup.nodeId}`,
            method: "GET",
            headers: auth,
            rejectUnauthorized: false,
            agent: false,
          },
          (res) => onResponse(res.statusCode ?? 0, res),
        );
        return req;
      }, "");
    const mcp = await measure(readNode, () => overHttps(port, "/mcp", mcpHeaders, mcpBody));

    const summary = [
      {
        case: `summarize (${CHUNKS} chunks): first byte`,
        directP50Ms: ai.aFirstByte.p50Ms,
        applianceP50Ms: ai.bFirstByte.p50Ms,
        overheadMs: round(ai.bFirstByte.p50Ms - ai.aFirstByte.p50Ms),
        ratio: round(ai.bFirstByte.p50Ms / ai.aFirstByte.p50Ms, 2),
      },
      {
        case: `summarize (${CHUNKS} chunks): whole call`,
        directP50Ms: ai.a.p50Ms,
        applianceP50Ms: ai.b.p50Ms,
        overheadMs: round(ai.b.p50Ms - ai.a.p50Ms),
        ratio: round(ai.b.p50Ms / ai.a.p50Ms, 2),
      },
      {
        // The direct side reuses its connection (no TLS); each appliance request opens a TLS one,
        // as the REST read below does too: what the AI path adds beyond an authenticated read.
        case: "summarize first byte, beyond the direct call plus a plain GET /api/nodes/:id",
        directP50Ms: round(ai.aFirstByte.p50Ms + mcp.a.p50Ms),
        applianceP50Ms: ai.bFirstByte.p50Ms,
        overheadMs: round(ai.bFirstByte.p50Ms - ai.aFirstByte.p50Ms - mcp.a.p50Ms),
        ratio: round(ai.bFirstByte.p50Ms / (ai.aFirstByte.p50Ms + mcp.a.p50Ms), 2),
      },
      {
        case: "read a node: MCP read_node vs GET /api/nodes/:id",
        directP50Ms: mcp.a.p50Ms,
        applianceP50Ms: mcp.b.p50Ms,
        overheadMs: round(mcp.b.p50Ms - mcp.a.p50Ms),
        ratio: round(mcp.b.p50Ms / mcp.a.p50Ms, 2),
      },
    ];
    return {
      calls: CALLS,
      chunks: CHUNKS,
      promptBytes: Buffer.byteLength(sent),
      summary,
      summarize: { direct: ai.a, appliance: ai.b, directFirstByte: ai.aFirstByte, applianceFirstByte: ai.bFirstByte },
      mcp: { rest: mcp.a, mcp: mcp.b },
    };
  } finally {
    if (appliance) await appliance.server.stop();
    await ollama.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
