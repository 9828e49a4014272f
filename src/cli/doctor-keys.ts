/**
 * `vecto doctor`'s master-key check: with this configuration's master keys, every active data key
 * is actually unwrapped (tenant ids of those that do not open), the current key must not be
 * retired, and the server running on the data directory (if any) must not use a retired master key
 * or leave a data key without a wrap it can open. A superseded key is a warning, not a failure.
 */
import type { Config } from "../config.js";
import { CryptoService } from "../crypto/index.js";
import { dataDirLocked } from "../db/data-dir-lock.js";
import { Database } from "../db/db.js";
import { keyHealth } from "../key-admin/health.js";
import { openKeyResolver } from "../services.js";
import type { CheckResult } from "./doctor-check.js";

const NAMED = 5;

export async function masterKeysCheck(config: Config): Promise<CheckResult> {
  const name = "master keys";
  let db: Database | undefined;
  try {
    const ring = await openKeyResolver(config);
    db = Database.open(config.databaseFile, { readonly: true });
    const crypto = new CryptoService(ring, db.keystore);
    const own = keyHealth(db.keystore, { currentLabel: ring.currentLabel, loadedLabels: ring.labels() }, true);
    const failures = [...own.failures];
    const warnings = [...own.warnings];
    const unreadable = await crypto.unreadableKeys(db.keystore.keyOwners());
    if (unreadable.length > 0) {
      const named = unreadable
        .slice(0, NAMED)
        .map((k) => `tenant ${k.tenantId} v${k.version} (${k.reason})`)
        .join("; ");
      failures.push(
        `${unreadable.length} data key(s) open under no available master key: ` +
          `${named}${unreadable.length > NAMED ? "; …" : ""}`,
      );
    }
    const server = dataDirLocked(config.dataDir) ? db.keystore.servingRecord() : null;
    if (server !== null) {
      const theirs = keyHealth(db.keystore, server, true);
      failures.push(...theirs.failures.map((f) => `running server (pid ${server.pid}): ${f}`));
      warnings.push(...theirs.warnings.map((w) => `running server (pid ${server.pid}): ${w}`));
    }
    if (failures.length > 0) return { name, ok: false, detail: [...failures, ...warnings].join("; ") };
    const summary =
      `current ${ring.currentLabel}, every data key ` +
      `opens${server === null ? "" : `; running server (pid ${server.pid}) uses ${server.currentLabel}`}`;
    return { name, ok: true, detail: warnings.length > 0 ? `${summary}; warning: ${warnings.join("; ")}` : summary };
  } catch (error) {
    return { name, ok: false, detail: (error as Error).message };
  } finally {
    db?.close();
  }
}
