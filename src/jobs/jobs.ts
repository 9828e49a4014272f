/** The appliance's scheduled jobs. */
import { basename } from "node:path";
import { expireAiPayloads } from "./ai-payload-retention.js";
import { makeCheckpoints } from "../audit/checkpoints.js";
import { runScheduledBackup } from "../backup/scheduled.js";
import type { Config } from "../config.js";
import { keystorePath } from "../db/db.js";
import { keyMaintenance } from "../key-admin/maintenance.js";
import type { AuditAnchor } from "../audit/anchor.js";
import type { EventSink } from "../audit/events.js";
import type { CryptoService, KeyResolver } from "../crypto/index.js";
import type { Database } from "../db/db.js";
import type { KeyDeps } from "../key-admin/rotation.js";
import type { LicenseService } from "../license/license.js";
import type { UsageService } from "../usage/usage.js";
import type { Job } from "./scheduler.js";

/**
 * What the jobs use of the service's wiring; `vecto serve` passes its services (src/services.ts), which the jobs never
 * import.
 */
export interface JobDeps {
  readonly db: Database;
  readonly crypto: CryptoService;
  readonly auditAnchor: AuditAnchor;
  readonly keyAdmin: KeyDeps;
  readonly resolver: KeyResolver;
  readonly identity: { readonly events: EventSink };
  readonly license: LicenseService;
  readonly usage: UsageService;
}

/** Every five minutes: sign a checkpoint of every audit log that grew, and anchor it outside the database. */
export function auditCheckpointJob(services: Pick<JobDeps, "db" | "crypto" | "auditAnchor">): Job {
  return {
    name: "audit-checkpoints",
    cron: "*/5 * * * *",
    async run() {
      const made = await makeCheckpoints(services.db, services.crypto, services.auditAnchor);
      return { logsCheckpointed: made.length };
    },
  };
}

/**
 * Every five minutes: key maintenance (keys.md): pick up key versions made elsewhere, wrap every
 * data key under each loaded master key, re-encrypt a share of older rows, retire unused versions.
 */
export function keyMaintenanceJob(services: Pick<JobDeps, "keyAdmin">): Job {
  return {
    name: "key-maintenance",
    cron: "*/5 * * * *",
    run: () => keyMaintenance(services.keyAdmin),
  };
}

/**
 * On VECTO_BACKUP_SCHEDULE (default daily at 03:00): a full encrypted backup into VECTO_BACKUP_DIR,
 * verified, then only the newest VECTO_BACKUP_KEEP kept (docs/backup.md).
 */
export function backupJob(
  services: Pick<JobDeps, "resolver" | "identity">,
  config: Pick<Config, "dataDir" | "databaseFile" | "backup">,
  schedule: string,
): Job {
  return {
    name: "backup",
    cron: schedule,
    async run() {
      const source = {
        dataDir: config.dataDir,
        databaseFile: config.databaseFile,
        keystoreFile: keystorePath(config.databaseFile),
      };
      const result = await runScheduledBackup({
        source,
        backupDir: config.backup.dir,
        keep: config.backup.keep,
        resolver: services.resolver,
        events: services.identity.events,
      });
      return { file: basename(result.file), backupId: result.backupId, bytes: result.bytes, removed: result.removed };
    },
  };
}

/**
 * Daily at 00:15 (UTC on a UTC host): the clock's high-water mark, the license state (audited when
 * it changed) and the usage snapshot of the day that just ended (docs/licensing.md).
 */
export function usageSnapshotJob(services: Pick<JobDeps, "license" | "usage">): Job {
  return {
    name: "usage-snapshot",
    cron: "15 0 * * *",
    async run() {
      const outcome = await services.usage.snapshot({ type: "system", id: "job:usage-snapshot" });
      const state = await services.license.recordStateChange();
      return { day: outcome.day, snapshot: outcome.status, licenseState: state };
    },
  };
}

/** Hourly: drop the payloads of LLM calls whose retention ended (VECTO_AI_PAYLOAD_RETENTION_DAYS, docs/ai.md). */
export function aiPayloadRetentionJob(services: Pick<JobDeps, "db">): Job {
  return {
    name: "ai-payload-retention",
    cron: "40 * * * *",
    async run() {
      return { payloadsExpired: await expireAiPayloads(services.db) };
    },
  };
}
