/**
 * Creates what a fresh installation needs: the data directory (0700), the master key file (0600)
 * and the TLS certificate. `vecto init` does this explicitly; `vecto serve` does it only for the
 * embedded default (nothing configured), so `npm start` works on a fresh machine.
 */
import { existsSync, mkdirSync, chmodSync, statSync } from "node:fs";
import type { Config } from "./config.js";
import { generateMasterKeyFile, generateSelfSignedCertificate, selfSignedNames } from "./crypto/index.js";
import type { Logger } from "./log.js";

export class InitError extends Error {
  override readonly name = "InitError";
}

export interface InitResult {
  readonly created: string[];
}

function ensureDataDir(config: Config, created: string[]): void {
  if (!existsSync(config.dataDir)) {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    created.push(config.dataDir);
  } else if (!statSync(config.dataDir).isDirectory()) {
    throw new InitError(`VECTO_DATA_DIR: ${config.dataDir} is not a directory`);
  }
  chmodSync(config.dataDir, 0o700);
}

async function ensureMasterKey(config: Config, log: Logger, created: string[], refuseExisting: boolean): Promise<void> {
  if (config.keyResolver !== "env") return;
  if (existsSync(config.masterKeyFile)) {
    if (refuseExisting)
      throw new InitError(`master key ${config.masterKeyFile} already exists; refusing to overwrite it`);
    return;
  }
  if (!config.devMasterKey && !refuseExisting) {
    throw new InitError(
      `master key file ${config.masterKeyFile} does not exist; create it with "vecto init" or fix VECTO_MASTER_KEY_FILE`,
    );
  }
  const { masterLabel } = await generateMasterKeyFile(config.masterKeyFile);
  created.push(config.masterKeyFile);
  if (config.devMasterKey) {
    log.warn(
      { file: config.masterKeyFile, masterLabel },
      "generated a DEV-ONLY master key inside the data directory; set VECTO_MASTER_KEY_FILE (or a systemd credential) for production",
    );
  } else {
    log.info({ file: config.masterKeyFile, masterLabel }, "generated master key");
  }
}

async function ensureCertificate(
  config: Config,
  log: Logger,
  created: string[],
  refuseExisting: boolean,
): Promise<void> {
  if (!config.tls.selfSigned) {
    for (const file of [config.tls.certFile, config.tls.keyFile]) {
      if (!existsSync(file))
        throw new InitError(
          `${file === config.tls.certFile ? "VECTO_TLS_CERT" : "VECTO_TLS_KEY"}: ${file} does not exist`,
        );
    }
    return;
  }
  const certExists = existsSync(config.tls.certFile);
  const keyExists = existsSync(config.tls.keyFile);
  if (certExists && keyExists) {
    if (refuseExisting) throw new InitError(`TLS key ${config.tls.keyFile} already exists; refusing to overwrite it`);
    return;
  }
  if (certExists !== keyExists) {
    throw new InitError(
      `TLS certificate and key must both exist (found only ${certExists ? config.tls.certFile : config.tls.keyFile}); remove it or supply both`,
    );
  }
  await generateSelfSignedCertificate(
    config.tls.certFile,
    config.tls.keyFile,
    selfSignedNames(config.listen.host, config.tls.names),
  );
  created.push(config.tls.certFile, config.tls.keyFile);
  log.warn(
    { cert: config.tls.certFile },
    "generated a self-signed TLS certificate; set VECTO_TLS_CERT/VECTO_TLS_KEY to use your PKI's",
  );
}

/** `vecto init`: creates everything, refusing to overwrite any existing key. */
export async function initialize(config: Config, log: Logger): Promise<InitResult> {
  const created: string[] = [];
  ensureDataDir(config, created);
  await ensureMasterKey(config, log, created, true);
  await ensureCertificate(config, log, created, true);
  return { created };
}

/** `vecto serve`: fills in only what the embedded default generates; configured files must exist. */
export async function prepareForServe(config: Config, log: Logger): Promise<InitResult> {
  const created: string[] = [];
  ensureDataDir(config, created);
  await ensureMasterKey(config, log, created, false);
  await ensureCertificate(config, log, created, false);
  return { created };
}
