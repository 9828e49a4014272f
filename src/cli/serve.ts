import type { Command } from "commander";
import { issueSetupToken, setupPending } from "../auth/setup-token.js";
import type { Config } from "../config.js";
import { prepareForServe } from "../data-dir.js";
import { createLogger, type Logger } from "../log.js";
import { buildApp } from "../server/app.js";
import { servedParts } from "../server/deps.js";
import { startServer, type RunningServer } from "../server/listen.js";
import { readTlsFiles } from "../tls/tls-files.js";
import { describeCertificate } from "../crypto/index.js";
import { ServedCertificate } from "../tls/served-certificate.js";
import { processStartTime, removeServeRecord, writeServeRecord } from "../tls/serve-record.js";
import { TlsReloader } from "../server/tls-reload.js";
import { logCertificateExpiry } from "../jobs/tls-expiry.js";
import { openServices, type Services } from "../services.js";
import { commandConfig } from "./context.js";
import { ensureAnchors, ensureTokenAnchors } from "../audit/checkpoints.js";
import { acquireDataDirLock } from "../db/data-dir-lock.js";
import { StorageFullError } from "../db/storage.js";
import { keyHealth, watchKeyHealth } from "../key-admin/health.js";
import { wrapUnderLoadedMasters } from "../key-admin/rotation.js";
import { startBackground } from "./serve-background.js";
import { action } from "./output.js";

/** How often a running server looks for a retired or superseded master key (a few indexed reads). */
const KEY_HEALTH_INTERVAL_MS = 60_000;

interface ServeOptions {
  /** Print the one-time setup token; defaults to "only when stderr is a terminal" so it stays out of journals. */
  setupToken?: boolean;
}

function formatUrl(host: string, port: number): string {
  return `https://${host.includes(":") ? `[${host}]` : host}:${port}/`;
}

/**
 * Prints the URL (and, while setup is pending, the one-time setup token) on a terminal or when asked, then logs
 * readiness.
 */
async function announce(
  config: Config,
  services: Services,
  server: RunningServer,
  log: Logger,
  print: boolean,
): Promise<void> {
  const url = formatUrl(server.address.host, server.address.port);
  const pending = setupPending(services.db);
  if (print) {
    const lines = ["", `  Vecto is running at ${url}`];
    if (pending) {
      const issued = await issueSetupToken(services.db, config.setupTokenTtlSeconds);
      lines.push(
        `  One-time setup token for creating the platform root (valid until ${issued.expiresAt}):`,
        `    ${issued.token}`,
      );
    }
    if (config.devMasterKey) lines.push("  WARNING: dev-only master key in the data directory; not for production.");
    process.stderr.write(`${lines.join("\n")}\n\n`);
  } else if (pending) {
    log.info("setup pending: run `vecto setup-token` to get the one-time setup token");
  }
  log.info(
    {
      url,
      redirect: server.redirectAddress,
      masterLabel: services.resolver.describe().masterLabel,
      clientCertificates: config.tls.clientCaFile === null ? "not asked" : "required",
    },
    "vecto is listening",
  );
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

/**
 * At start, before the listener opens: the clock against its high-water mark and the license state
 * (the usage snapshot a missed night owes waits until after, src/cli/serve-background.ts). Never
 * blocks start-up: a failure is logged and the nightly job tries again.
 */
async function licenseAtStart(services: Services, log: Logger): Promise<void> {
  try {
    await services.license.observeClock("start");
    await services.license.recordStateChange();
    const status = services.license.status();
    for (const warning of status.warnings) log.warn({ license: status.state }, warning);
    log.info({ license: status.state }, "license checked");
  } catch (error) {
    log.error(
      { error: { name: (error as Error).name, message: (error as Error).message } },
      "license check at start failed",
    );
  }
}

/**
 * SIGHUP reloads the certificate (never the default "terminate"); one that arrives while starting is done once the
 * listener runs.
 */
function onReloadSignal(): (reloader: TlsReloader) => void {
  let current: TlsReloader | null = null;
  let pending = false;
  process.on("SIGHUP", () => {
    if (current === null) pending = true;
    else void current.reload("SIGHUP");
  });
  return (reloader) => {
    current = reloader;
    if (pending) void reloader.reload("SIGHUP while starting");
  };
}

/** Reloads on SIGHUP from now on and writes the serve record `vecto tls renew` looks for. */
async function armTlsReload(
  config: Config,
  server: RunningServer,
  served: ServedCertificate,
  log: Logger,
  arm: (reloader: TlsReloader) => void,
): Promise<void> {
  const identity = { pid: process.pid, startTime: processStartTime("self") };
  const reloader = new TlsReloader(config.tls, server, served, log, (tls) =>
    writeServeRecord(config.dataDir, { ...identity, tls }),
  );
  await writeServeRecord(config.dataDir, { ...identity, tls: reloader.initial() });
  arm(reloader);
}

/** For the CLI (keys status, doctor, retire-master): which master keys this server wraps and unwraps with. */
function recordServingKeys(services: Services, log: Logger): void {
  const ring = services.resolver;
  try {
    services.db.keystore.recordServing({
      pid: process.pid,
      currentLabel: ring.currentLabel,
      loadedLabels: ring.labels(),
      startedAt: new Date().toISOString(),
    });
  } catch (error) {
    // A full disk must not stop the start (reads keep working); the CLI then cannot see this server's keys.
    if (!(error instanceof StorageFullError)) throw error;
    log.warn(
      "the running server's master keys could not be recorded (disk full): vecto keys status and " +
        "retire-master cannot see them",
    );
  }
}

export async function runServer(config: Config, log: Logger, options: ServeOptions): Promise<void> {
  const armReload = onReloadSignal();
  await prepareForServe(config, log);
  if (config.devMasterKey) log.warn({ file: config.masterKeyFile }, "running with a DEV-ONLY master key");
  // Held while serving: `vecto backup restore` refuses while it is held (src/db/data-dir-lock.ts).
  const lock = acquireDataDirLock(config.dataDir);
  const services = await openServices(config, log);
  const ring = services.resolver;
  let server: RunningServer;
  let served: ServedCertificate;
  try {
    // Everything the start does before the listener answers: a signal arriving once it answers finds its handler.
    // Data keys created while this configuration's master keys were not all loaded get their wraps now.
    await wrapUnderLoadedMasters(services.keyAdmin);
    recordServingKeys(services, log);
    // An installation upgraded from a build without anchors gets its checkpoints anchored now (logged).
    ensureAnchors(services.db, services.auditAnchor);
    // With an HSM: its anchor of each log catches up with the newest checkpoint (refused, and logged, after a
    // rollback).
    await ensureTokenAnchors(services.db, services.auditAnchor);
    // From here on every committed event gets its log checkpointed within about a second.
    services.checkpointer.start();
    await licenseAtStart(services, log);
    const tls = readTlsFiles(config.tls);
    served = new ServedCertificate(describeCertificate(tls.cert));
    const app = buildApp({
      ...servedParts(services),
      log,
      bodyLimitBytes: config.bodyLimitBytes,
      clients: { trustedProxies: config.trustedProxies, rateLimit: config.rateLimit },
      certificate: served,
    });
    server = await startServer(app, { listen: config.listen, redirectListen: config.redirectListen, tls, log });
  } catch (error) {
    services.close();
    lock.release();
    throw error;
  }
  // A master key retired or superseded by another process while this one runs: logged when it happens.
  const stopKeyWatch = watchKeyHealth(
    () => keyHealth(services.db.keystore, { currentLabel: ring.currentLabel, loadedLabels: ring.labels() }, true),
    log,
    KEY_HEALTH_INTERVAL_MS,
  );
  // The erasure record, jobs, the checkpoint catch-up and a missed usage snapshot: once the listener answers
  // (src/cli/serve-background.ts).
  const background = startBackground(config, services, served, log);
  onSignals(async (signal) => {
    log.info({ signal }, "shutting down");
    await background.stop();
    await server.close();
    stopKeyWatch();
    // The last requests' read events written, then every event signed, stored and anchored before the database closes.
    await services.identity.reads.close();
    await services.checkpointer.stop();
    try {
      // Left behind on a full disk, the record is harmless: it counts only while vecto.lock is held.
      services.db.keystore.clearServing(process.pid);
    } catch (error) {
      if (!(error instanceof StorageFullError)) throw error;
    }
    try {
      services.close();
    } catch (error) {
      // A full disk keeps the WAL unfolded: every commit is in it and the next start folds it in.
      if (!(error instanceof StorageFullError)) throw error;
      log.warn(error.message);
    } finally {
      removeServeRecord(config.dataDir);
      lock.release();
    }
    log.info("stopped cleanly");
    process.exit(0);
  });
  logCertificateExpiry(served, log);
  await armTlsReload(config, server, served, log, armReload);
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
