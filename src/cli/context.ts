import { existsSync } from "node:fs";
import { loadConfig, type Config, type LogLevel } from "../config.js";
import { DomainError } from "../errors.js";
import { createLogger, type Logger, type LogTarget } from "../log.js";
import { configureNativeAddons } from "../native/addons.js";
import { openServices, type Services } from "../services.js";
import { CliError } from "./output.js";

/** What every command does first: load the validated config, then tell the addon loader where its cache lives. */
export function commandConfig(): Config {
  const config = loadConfig();
  configureNativeAddons({ cacheDir: config.cacheDir });
  return config;
}

/** `vecto --verbose …` (main.ts sets it before the command runs). */
let verbose = false;

export function setVerbose(on: boolean): void {
  verbose = on;
}

const LEVELS: readonly LogLevel[] = ["trace", "debug", "info", "warn", "error", "fatal", "silent"];

/** Log lines kept without --verbose, as a person reads them: "warning: <message>", no JSON. */
const plainLines: Exclude<LogTarget, string> = {
  write(line: string): void {
    const { level, msg } = JSON.parse(line) as { level?: string; msg?: string };
    process.stderr.write(`${level === "warn" ? "warning" : (level ?? "log")}: ${msg ?? ""}\n`);
  },
};

/**
 * The log of a command other than `serve`. A command's audit rows are the record and its output
 * says what it did, so their JSON echo on stderr is noise before a result or before the one line
 * a failure prints: quiet by default. `quiet` is the level kept without --verbose, as plain lines
 * ("warn" for init, whose warnings about a development key or certificate must be seen). With
 * --verbose: the JSON lines, at VECTO_LOG_LEVEL but at least info.
 */
export function cliLogger(config: Config, quiet: LogLevel = "silent"): Logger {
  const configured = LEVELS.indexOf(config.logLevel);
  if (verbose) return createLogger(LEVELS[Math.min(configured, LEVELS.indexOf("info"))] ?? "info", "stderr");
  return createLogger(LEVELS[Math.max(configured, LEVELS.indexOf(quiet))] ?? "silent", plainLines);
}

/**
 * Opens the installation for a command and closes it afterwards. Refuses before `vecto init`
 * (opening would create an empty database); a domain refusal becomes the command's one line.
 */
export async function withServices<T>(run: (services: Services, config: Config) => Promise<T>): Promise<T> {
  const config = commandConfig();
  if (!existsSync(config.databaseFile))
    throw new CliError(`no database at ${config.databaseFile}; run "vecto init" first`);
  const services = await openServices(config, cliLogger(config));
  try {
    return await run(services, config);
  } catch (error) {
    if (error instanceof DomainError) throw new CliError(error.message);
    throw error;
  } finally {
    services.close();
  }
}
