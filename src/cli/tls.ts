/**
 * `vecto tls check` checks certificate files as a reload would, changing nothing.
 * `vecto tls renew`: puts renewed certificate files into service without a restart. It checks the
 * files (the key matches, the certificate is within its validity period), then signals the
 * running `vecto serve` (SIGHUP, found through its serve record) and waits for its answer. With
 * `--self-signed` it first regenerates the embedded default certificate; a certificate the
 * operator configured (VECTO_TLS_CERT) is never written.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Command } from "commander";
import type { Config } from "../config.js";
import { resolve } from "node:path";
import {
  daysLeft,
  expiryWarning,
  regenerateSelfSignedCertificate,
  selfSignedNames,
  type CertificateSummary,
} from "../crypto/index.js";
import {
  findRunningServer,
  readServeRecord,
  recordedProcessRuns,
  type ServeRecord,
  type TlsReloadOutcome,
} from "../tls/serve-record.js";
import { loadCheckedTlsFiles } from "../tls/tls-files.js";
import { commandConfig } from "./context.js";
import { action, CliError, printJson, printLine } from "./output.js";

const ANSWER_WAIT_MS = 15_000;
const POLL_MS = 100;

interface CheckOptions {
  cert?: string;
  key?: string;
  json?: boolean;
}

/** The configured files, or a pair given on the command line (to check new files before putting them in place). */
function filesToCheck(config: Config, options: CheckOptions): Config["tls"] {
  if ((options.cert === undefined) !== (options.key === undefined)) throw new CliError("--cert and --key go together");
  if (options.cert === undefined || options.key === undefined) return config.tls;
  return { ...config.tls, certFile: resolve(options.cert), keyFile: resolve(options.key) };
}

async function check(options: CheckOptions): Promise<void> {
  const config = commandConfig();
  const tls = filesToCheck(config, options);
  let certificate: CertificateSummary;
  try {
    certificate = loadCheckedTlsFiles(tls).certificate;
  } catch (error) {
    throw new CliError((error as Error).message);
  }
  if (options.json)
    return printJson({
      certFile: tls.certFile,
      certificate,
      warnings: [expiryWarning(certificate)].filter((w) => w !== null),
    });
  printLine(`certificate: ${describe(certificate)}`);
  const warning = expiryWarning(certificate);
  if (warning !== null) printLine(`warning: ${warning}`);
}

interface RenewOptions {
  selfSigned?: boolean;
  json?: boolean;
}

async function regenerate(config: Config): Promise<void> {
  if (!config.tls.selfSigned) {
    throw new CliError(
      `--self-signed: VECTO_TLS_CERT is set, so ${config.tls.certFile} is your own certificate and is ` +
        `never overwritten; put the renewed files in place and run "vecto tls renew"`,
    );
  }
  await regenerateSelfSignedCertificate(
    config.tls.certFile,
    config.tls.keyFile,
    selfSignedNames(config.listen.host, config.tls.names),
  );
}

function checkedCertificate(config: Config): CertificateSummary {
  try {
    return loadCheckedTlsFiles(config.tls).certificate;
  } catch (error) {
    throw new CliError(`${(error as Error).message}; nothing was reloaded`);
  }
}

function signal(pid: number): void {
  try {
    process.kill(pid, "SIGHUP");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EPERM")
      throw new CliError(
        `not allowed to signal vecto serve (pid ${pid}): run this as the service user (installed: ` +
          `install.sh exec tls renew)`,
      );
    throw new CliError(`cannot signal vecto serve (pid ${pid}): ${code ?? (error as Error).message}`);
  }
}

/** Signals the server and waits for the outcome it records (its sequence moves past the one seen before). */
async function reloadRunning(config: Config, server: ServeRecord): Promise<TlsReloadOutcome> {
  signal(server.pid);
  const deadline = Date.now() + ANSWER_WAIT_MS;
  while (Date.now() < deadline) {
    await sleep(POLL_MS);
    const record = readServeRecord(config.dataDir);
    if (record !== null && record.pid === server.pid && record.tls.sequence > server.tls.sequence) return record.tls;
    if (!recordedProcessRuns(server))
      throw new CliError(`vecto serve (pid ${server.pid}) exited before it said whether it reloaded; see its log`);
  }
  throw new CliError(
    `vecto serve (pid ${server.pid}) did not say within ${ANSWER_WAIT_MS / 1000} s whether it reloaded; see its log`,
  );
}

function describe(certificate: CertificateSummary): string {
  return (
    `${certificate.subject}; names: ${certificate.names || "none"}; valid until ` +
    `${certificate.validTo.toISOString()} (${daysLeft(certificate)} days); sha256 ` +
    `${certificate.fingerprint256}`
  );
}

async function renew(options: RenewOptions): Promise<void> {
  const config = commandConfig();
  if (options.selfSigned) await regenerate(config);
  const certificate = checkedCertificate(config);
  const server = findRunningServer(config.dataDir);
  const outcome = server === null ? null : await reloadRunning(config, server);
  if (server !== null && outcome !== null && !outcome.ok) {
    throw new CliError(
      `vecto serve (pid ${server.pid}) refused the files: ${outcome.refused ?? "see its log"}; it keeps ` +
        `serving ${outcome.fingerprint256}`,
    );
  }
  if (options.json) {
    return printJson({
      generated: options.selfSigned === true,
      certificate,
      server: server === null ? null : { pid: server.pid, reloaded: true },
    });
  }
  if (options.selfSigned) printLine(`generated a new self-signed certificate: ${config.tls.certFile}`);
  printLine(`certificate: ${describe(certificate)}`);
  if (server === null)
    printLine(`no vecto serve is running on ${config.dataDir}: it uses this certificate at its next start`);
  else
    printLine(
      `vecto serve (pid ${server.pid}) reloaded it: new connections get this certificate, open ones keep theirs`,
    );
}

export function tlsCommand(program: Command): void {
  const tls = program.command("tls").description("the HTTPS certificate: renew it without a restart");
  tls
    .command("renew")
    .description(
      "check the certificate and key files and have the running vecto serve reload them (SIGHUP); with " +
        "no server running, only check them",
    )
    .option(
      "--self-signed",
      "first regenerate the generated self-signed certificate (refused when VECTO_TLS_CERT is set)",
    )
    .option("--json", "print the certificate and what was done as JSON")
    .action(action(renew));
  tls
    .command("check")
    .description(
      "check the certificate and key as a reload would (readable, key matches, within validity, client " +
        "CA); changes nothing",
    )
    .option("--cert <file>", "check this certificate (PEM) instead of the configured one; with --key")
    .option("--key <file>", "check this key (PEM) instead of the configured one; with --cert")
    .option("--json", "print the certificate as JSON")
    .action(action(check));
}
