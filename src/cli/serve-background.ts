/**
 * What `vecto serve` starts once its listener answers: nothing a request or /readyz needs waits
 * for it (keys, database, anchors, license state and TLS are ready before the listener opens,
 * src/cli/serve.ts). Run a moment after the listener is up (BACKGROUND_DELAY_MS), so that the
 * first requests, readiness probes first of all, are not queued behind it on the event loop; a
 * signal in the meantime runs it at once. A failure is logged and never stops the server: the
 * nightly job takes the usage snapshot again, the five-minute job checkpoints again, the next
 * start or backup rewrites the erasure record, and a job that cannot be scheduled is named in the log.
 */
import { repairErasureRecords } from "../backup/erasure-journal.js";
import type { Config } from "../config.js";
import type { Logger } from "../log.js";
import type { Services } from "../services.js";
import type { ServedCertificate } from "../tls/served-certificate.js";
import { tlsExpiryJob } from "../jobs/tls-expiry.js";
import {
  aiPayloadRetentionJob,
  auditCheckpointJob,
  backupJob,
  keyMaintenanceJob,
  usageSnapshotJob,
} from "../jobs/jobs.js";
import { startScheduler, type Scheduler } from "../jobs/scheduler.js";

/**
 * How long after the listener opens the background start waits. It takes the event loop for some
 * tens of milliseconds (the erasure record scans each tenant's audit log, node-cron computes each
 * job's next run through Intl): a start answers its first /readyz that much sooner.
 */
const BACKGROUND_DELAY_MS = 250;

export interface Background {
  /** Waits for the deferred start to finish, then stops the jobs (on shutdown, before the listener closes). */
  stop(): Promise<void>;
}

function errorFields(error: unknown): { error: { name: string; message: string } } {
  const e = error instanceof Error ? error : new Error(String(error));
  return { error: { name: e.name, message: e.message } };
}

function scheduleJobs(config: Config, services: Services, served: ServedCertificate, log: Logger): Scheduler {
  const backups = config.backup.schedule === null ? [] : [backupJob(services, config, config.backup.schedule)];
  const jobs = [
    auditCheckpointJob(services),
    keyMaintenanceJob(services),
    usageSnapshotJob(services),
    aiPayloadRetentionJob(services),
    tlsExpiryJob(served, log),
    ...backups,
  ];
  return startScheduler(jobs, services.identity.events, log);
}

/**
 * Events one-shot CLI commands wrote while the server was down get their checkpoint now rather than
 * at the next five-minute job: every log is handed to the checkpointer, which skips those with no
 * new event.
 */
function catchUpCheckpoints(services: Services): void {
  for (const logId of services.db.auditLog.logIds()) services.checkpointer.grew(logId);
}

/**
 * A failed write of the erasure record at erasure time, or a crash right after the commit, heals here
 * (src/backup/erasure-journal.ts). An erasure committed meanwhile writes its own entry; both merge
 * into the file one after the other (src/backup/erasures.ts), so the order does not matter.
 */
async function erasureRecordsAtStart(config: Config, log: Logger): Promise<void> {
  try {
    await repairErasureRecords(config);
  } catch (error) {
    log.error(
      errorFields(error),
      "the erasure record (erased-tenants.json) could not be brought up to date; a restore of an older " +
        "backup may not erase again what was erased since",
    );
  }
}

/** Yesterday's usage snapshot when the nightly job missed it (the appliance was down at 00:15). */
async function usageAtStart(services: Services, log: Logger): Promise<void> {
  try {
    const outcome = await services.usage.snapshot({ type: "system", id: "start" });
    log.info({ usageSnapshot: outcome.status, day: outcome.day }, "usage checked at start");
  } catch (error) {
    log.error(errorFields(error), "usage snapshot at start failed; the nightly job tries again");
  }
}

export function startBackground(
  config: Config,
  services: Services,
  served: ServedCertificate,
  log: Logger,
): Background {
  let scheduler: Scheduler | null = null;
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  let now = (): void => {};
  const due = new Promise<void>((resolve) => {
    now = resolve;
    timer = setTimeout(resolve, BACKGROUND_DELAY_MS);
  });
  const started = due.then(async () => {
    clearTimeout(timer);
    // Also on the way down: the record is what a restore of an older backup erases again.
    await erasureRecordsAtStart(config, log);
    // A signal in the meantime: the server is going down, nothing else is started.
    if (stopping) return;
    try {
      scheduler = scheduleJobs(config, services, served, log);
    } catch (error) {
      log.error(errorFields(error), "background jobs could not be scheduled");
    }
    try {
      catchUpCheckpoints(services);
    } catch (error) {
      log.error(errorFields(error), "audit checkpoint catch-up at start failed; the five-minute job tries again");
    }
    await usageAtStart(services, log);
  });
  return {
    async stop() {
      stopping = true;
      now();
      await started;
      await scheduler?.stop();
    },
  };
}
