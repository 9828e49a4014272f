/** Starts the bare baseline (bench/http/bare-server.ts) as its own process with the appliance's certificate. */
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { client } from "./client.js";
import { SEED_NODES, seedNodes } from "./appliance.js";
import { cleanEnv, freePort, spawnServer, TSX, whenReady, type Server } from "./processes.js";

export interface Bare {
  readonly server: Server;
  readonly projectId: string;
  readonly nodeIds: readonly string[];
  readonly answerBytes: { readonly create: number; readonly read: number };
}

export async function startBare(dir: string, tls: { certFile: string; keyFile: string }): Promise<Bare> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const env = cleanEnv({
    BARE_CERT: tls.certFile,
    BARE_KEY: tls.keyFile,
    BARE_DB: join(dir, "bare.db"),
    BARE_PORT: String(port),
  });
  const module = resolve(import.meta.dirname, "bare-server.ts");
  const server = spawnServer(process.execPath, [...TSX, module], {
    cwd: dir,
    env,
    port,
    logFile: join(dir, "bare.log"),
  });
  try {
    const projectId = "bare-project";
    const call = client(port);
    await whenReady(server, "/readyz");
    const seeded = await seedNodes(call, `/projects/${projectId}/nodes`, undefined, SEED_NODES);
    const read = await call("GET", `/nodes/${seeded.ids[0] ?? ""}`);
    if (read.status !== 200) throw new Error(`bare read: ${read.status} ${read.body}`);
    return {
      server,
      projectId,
      nodeIds: seeded.ids,
      answerBytes: { create: seeded.createBytes, read: Buffer.byteLength(read.body) },
    };
  } catch (error) {
    await server.stop();
    throw error;
  }
}
