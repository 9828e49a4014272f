/** The appliance's scheduled jobs. */
import { makeCheckpoints } from "../audit/checkpoints.js";
import type { Services } from "../services.js";
import type { Job } from "./scheduler.js";

/** Every five minutes: sign a checkpoint of every audit log that grew. */
export function auditCheckpointJob(services: Pick<Services, "db" | "crypto">): Job {
  return {
    name: "audit-checkpoints",
    cron: "*/5 * * * *",
    async run() {
      const made = await makeCheckpoints(services.db, services.crypto);
      return { logsCheckpointed: made.length };
    },
  };
}
