/**
 * The login storm of bench/http.bench.ts (child_process.fork, IPC): on "start", `concurrency`
 * loops each sign in with a correct password (argon2 verification on the server) over and over,
 * over keep-alive HTTPS, until "stop". Correct passwords, so that the login throttle, which slows
 * failures only, never turns the storm into cheap refusals. Its own process, like the load.
 */
import { Agent, request } from "node:https";
import type { StormCommand, StormReply, StormStart } from "./protocol.js";

let running = false;
let logins = 0;
let failures = 0;
let startedAt = 0;
let loops: Promise<void>[] = [];
let agent: Agent | undefined;

function login(agent: Agent, start: StormStart): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL("/api/auth/login", start.origin),
      {
        method: "POST",
        agent,
        rejectUnauthorized: false,
        headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(start.body) },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(start.body);
  });
}

async function loop(agent: Agent, start: StormStart): Promise<void> {
  while (running) {
    try {
      if ((await login(agent, start)) === 200) logins++;
      else failures++;
    } catch {
      failures++;
    }
  }
}

function reply(message: StormReply): void {
  process.send?.(message);
}

process.on("message", (command: StormCommand) => {
  if (command.type === "start") {
    if (running) return reply({ type: "error", message: "the storm is already running" });
    agent = new Agent({ keepAlive: true, maxSockets: command.concurrency });
    running = true;
    logins = 0;
    failures = 0;
    startedAt = performance.now();
    const sockets = agent;
    loops = Array.from({ length: command.concurrency }, () => loop(sockets, command));
    reply({ type: "started" });
    return;
  }
  running = false;
  void Promise.all(loops).then(() => {
    agent?.destroy();
    reply({ type: "stopped", logins, failures, seconds: (performance.now() - startedAt) / 1000 });
  });
});
