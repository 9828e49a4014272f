/**
 * Reloading the certificate and key (and the mutual-TLS client CA) into the running HTTPS server
 * on SIGHUP (`vecto tls renew`, `systemctl reload vecto`): new handshakes get the new files, open
 * connections keep theirs, nothing restarts. Files that fail the checks (unreadable, key not
 * matching, expired, not yet valid, a bad client CA) are refused with one log line and the server
 * keeps serving what it served. Each outcome goes into the serve record for `vecto tls renew`.
 */
import type { Config } from "../config.js";
import type { Logger } from "../log.js";
import type { RunningServer } from "./listen.js";
import type { TlsReloadOutcome } from "../tls/serve-record.js";
import type { ServedCertificate } from "../tls/served-certificate.js";
import { loadCheckedTlsFiles } from "../tls/tls-files.js";

export class TlsReloader {
  #sequence = 0;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly tls: Config["tls"],
    private readonly server: Pick<RunningServer, "reloadTls">,
    private readonly served: ServedCertificate,
    private readonly log: Logger,
    private readonly report: (outcome: TlsReloadOutcome) => Promise<void>,
  ) {}

  /** The outcome at start (sequence 0), before any reload. */
  initial(): TlsReloadOutcome {
    return this.#outcome(true);
  }

  /** Reloads one at a time, in the order asked. */
  reload(trigger: string): Promise<TlsReloadOutcome> {
    const next = this.#queue.then(() => this.#reloadNow(trigger));
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #reloadNow(trigger: string): Promise<TlsReloadOutcome> {
    this.#sequence += 1;
    let outcome: TlsReloadOutcome;
    try {
      const { files, certificate } = loadCheckedTlsFiles(this.tls);
      this.server.reloadTls(files);
      this.served.replace(certificate);
      outcome = this.#outcome(true);
      this.log.info(
        {
          trigger,
          subject: certificate.subject,
          names: certificate.names,
          validTo: certificate.validTo.toISOString(),
          fingerprint256: certificate.fingerprint256,
        },
        "tls certificate reloaded",
      );
    } catch (error) {
      const refused = (error as Error).message.replace(/\s*\n\s*/g, " ");
      outcome = { ...this.#outcome(false), refused };
      this.log.warn(
        { trigger, refused, serving: this.served.current.fingerprint256 },
        "tls certificate reload refused; still serving the previous certificate",
      );
    }
    try {
      await this.report(outcome);
    } catch (error) {
      this.log.warn(
        { error: { name: (error as Error).name, message: (error as Error).message } },
        "could not record the tls reload outcome in serve.json",
      );
    }
    return outcome;
  }

  #outcome(ok: boolean): TlsReloadOutcome {
    const current = this.served.current;
    return {
      sequence: this.#sequence,
      ok,
      at: new Date().toISOString(),
      fingerprint256: current.fingerprint256,
      validTo: current.validTo.toISOString(),
    };
  }
}
