import { existsSync } from "node:fs";
import { loadConfig, type Config } from "../config.js";
import { DomainError } from "../errors.js";
import { createLogger } from "../log.js";
import { configureNativeAddons } from "../native/addons.js";
import { openServices, type Services } from "../services.js";
import { CliError } from "./output.js";

/** What every command does first: load the validated config, then tell the addon loader where its cache lives. */
export function commandConfig(): Config {
  const config = loadConfig();
  configureNativeAddons({ cacheDir: config.cacheDir });
  return config;
}

/**
 * Opens the installation for a command and closes it afterwards. Refuses before `vecto init`
 * (opening would create an empty database); a domain refusal becomes the command's one line.
 */
export async function withServices<T>(run: (services: Services, config: Config) => Promise<T>): Promise<T> {
  const config = commandConfig();
  if (!existsSync(config.databaseFile)) throw new CliError(`no database at ${config.databaseFile}; run "vecto init" first`);
  const services = await openServices(config, createLogger(config.logLevel, "stderr"));
  try {
    return await run(services, config);
  } catch (error) {
    if (error instanceof DomainError) throw new CliError(error.message);
    throw error;
  } finally {
    services.close();
  }
}
