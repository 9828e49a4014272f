import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { issueSetupToken, setupPending } from "../auth/setup-token.js";
import type { Config } from "../config.js";
import { prepareForServe } from "../data-dir.js";
import { createLogger, type Logger } from "../log.js";
import { buildApp } from "../server/app.js";
import { startServer, type RunningServer } from "../server/listen.js";
import { openServices, type Services } from "../services.js";
import { commandConfig } from "./context.js";
import { auditCheckpointJob } from "../jobs/jobs.js";
import { startScheduler } from "../jobs/scheduler.js";
import { action } from "./output.js";

interface ServeOptions {
  /** Print the one-time setup token; defaults to "only when stderr is a terminal" so it stays out of journals. */
  setupToken?: boolean;
}

function formatUrl(host: string, port: number): string {
  return `https://${host.includes(":") ? `[${host}]` : host}:${port}/`;
}

/** Prints the URL (and, while setup is pending, the one-time setup token) on a terminal or when asked, then logs readiness. */
async function announce(config: Config, services: Services, server: RunningServer, log: Logger, print: boolean): Promise<void> {
  const url = formatUrl(server.address.host, server.address.port);
  const pending = setupPending(services.db);
  if (print) {
    const lines = ["", `  Vecto is running at ${url}`];
    if (pending) {
      const issued = await issueSetupToken(services.db, config.setupTokenTtlSeconds);
      lines.push(`  One-time setup token for creating the platform root (valid until ${issued.expiresAt}):`, `    ${issued.token}`);
    }
    if (config.devMasterKey) lines.push("  WARNING: dev-only master key in the data directory; not for production.");
    process.stderr.write(`${lines.join("\n")}\n\n`);
  } else if (pending) {
    log.info("setup pending: run `vecto setup-token` to get the one-time setup token");
  }
  log.info({ url, redirect: server.redirectAddress, masterLabel: services.resolver.describe().masterLabel }, "vecto is listening");
}

function onSignals(stop: (signal: NodeJS.Signals) => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(1); // a second Ctrl-C means "now"
    stopping = true;
    void stop(signal);
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
}

export async function runServer(config: Config, log: Logger, options: ServeOptions): Promise<void> {
  await prepareForServe(config, log);
  if (config.devMasterKey) log.warn({ file: config.masterKeyFile }, "running with a DEV-ONLY master key");
  const services = await openServices(config, log);
  let server: RunningServer;
  try {
    const app = buildApp({ db: services.db, keys: services.resolver, identity: services.identity, graph: services.graph, log, bodyLimitBytes: config.bodyLimitBytes });
    const tls = { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) };
    server = await startServer(app, { listen: config.listen, redirectListen: config.redirectListen, tls });
  } catch (error) {
    services.close();
    throw error;
  }
  const scheduler = startScheduler([auditCheckpointJob(services)], services.identity.events, log);
  onSignals(async (signal) => {
    log.info({ signal }, "shutting down");
    await scheduler.stop();
    await server.close();
    services.close();
    log.info("stopped cleanly");
    process.exit(0);
  });
  await announce(config, services, server, log, options.setupToken ?? process.stderr.isTTY === true);
}

export function serveCommand(program: Command): void {
  program
    .command("serve")
    .description("run the appliance (HTTPS API)")
    .option("--setup-token", "print the one-time setup token (default: only on a terminal)")
    .option("--no-setup-token", "never print the setup token")
    .action(
      action(async (options: ServeOptions) => {
        const config = commandConfig();
        await runServer(config, createLogger(config.logLevel), options);
      }),
    );
}
