/**
 * Background jobs on a node-cron schedule. Every run is audited in the installation's log (what
 * ran, whether it succeeded, how long it took), and a failing run is logged without stopping the
 * scheduler. Runs of one job never overlap.
 */
import { schedule, type ScheduledTask } from "node-cron";
import type { EventSink } from "../audit/events.js";
import type { Logger } from "../log.js";

export interface Job {
  readonly name: string;
  /** Cron expression (minute resolution). */
  readonly cron: string;
  run(): Promise<Record<string, string | number | boolean>>;
}

export interface Scheduler {
  /** Runs a job now, outside its schedule (audited the same way). */
  runNow(name: string): Promise<void>;
  stop(): Promise<void>;
}

async function runAudited(job: Job, events: EventSink, log: Logger): Promise<void> {
  const started = performance.now();
  try {
    const result = await job.run();
    events.emit({
      event: "job.run",
      sensitivity: "normal",
      severity: "info",
      tenantId: null,
      actor: { type: "system", id: `job:${job.name}` },
      payload: { job: job.name, ok: true, ms: Math.round(performance.now() - started), ...result },
    });
  } catch (error) {
    log.error(
      { job: job.name, error: { name: (error as Error).name, message: (error as Error).message } },
      "job failed",
    );
    events.emit({
      event: "job.run",
      sensitivity: "normal",
      severity: "error",
      tenantId: null,
      actor: { type: "system", id: `job:${job.name}` },
      payload: { job: job.name, ok: false, ms: Math.round(performance.now() - started) },
    });
  }
}

export function startScheduler(jobs: readonly Job[], events: EventSink, log: Logger): Scheduler {
  const tasks: ScheduledTask[] = jobs.map((job) =>
    schedule(job.cron, () => runAudited(job, events, log), { name: job.name, noOverlap: true }),
  );
  return {
    async runNow(name) {
      const job = jobs.find((j) => j.name === name);
      if (!job) throw new Error(`no job named ${name}`);
      await runAudited(job, events, log);
    },
    async stop() {
      await Promise.all(tasks.map((t) => t.stop()));
    },
  };
}
