/**
 * How restore and rewrap open a copy of the data: through the service's own wiring (the
 * composition root, src/services.ts), which the CLI hands in, so that migrations, keys and audit
 * run on the copy exactly as they will in service. Backup code names only what it uses of that
 * wiring and never imports the composition root (test/unit/architecture.test.ts).
 */
import type { EventSink } from "../audit/events.js";
import type { Config } from "../config.js";
import type { CryptoService, KeyResolver } from "../crypto/index.js";
import type { Database } from "../db/db.js";
import type { KeyDeps } from "../key-admin/rotation.js";
import type { Logger } from "../log.js";

/** The parts of the opened services a restore or a rewrap uses on the copy. */
export interface OpenedCopy {
  readonly db: Database;
  readonly crypto: Pick<CryptoService, "forgetTenant">;
  readonly identity: { readonly events: EventSink };
  readonly keyAdmin: KeyDeps;
  close(): void;
}

export interface BackupWiring {
  /** Opens the services on `config` (its databaseFile names the copy): src/services.ts openServices. */
  openServices(config: Config, log: Logger): Promise<OpenedCopy>;
  /** The configured master keys: src/services.ts openKeyResolver. */
  openKeyResolver(config: Config): Promise<KeyResolver>;
}
