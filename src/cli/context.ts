import { loadConfig, type Config } from "../config.js";
import { configureNativeAddons } from "../native/addons.js";

/** What every command does first: load the validated config, then tell the addon loader where its cache lives. */
export function commandConfig(): Config {
  const config = loadConfig();
  configureNativeAddons({ cacheDir: config.cacheDir });
  return config;
}
