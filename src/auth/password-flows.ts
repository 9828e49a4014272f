/**
 * Password change, an admin-issued reset and its redemption, and the platform root's recovery,
 * bound here to their dependencies (the platform database among them): the routes are given these
 * functions, never the database (test/unit/server/served-parts.test.ts).
 */
import type { Bound } from "../bound.js";
import { changeOwnPassword, type PasswordFlowDeps } from "./password-change.js";
import { issuePasswordReset, redeemPasswordReset } from "./password-reset.js";
import { issueRootRecovery } from "./root-recovery.js";

export interface PasswordFlows {
  readonly changeOwnPassword: Bound<typeof changeOwnPassword>;
  readonly issuePasswordReset: Bound<typeof issuePasswordReset>;
  readonly redeemPasswordReset: Bound<typeof redeemPasswordReset>;
  /** `vecto recover-root` only: no route issues a reset for the platform tenant. */
  readonly issueRootRecovery: Bound<typeof issueRootRecovery>;
}

export function passwordFlows(deps: PasswordFlowDeps): PasswordFlows {
  return {
    changeOwnPassword: (...args) => changeOwnPassword(deps, ...args),
    issuePasswordReset: (...args) => issuePasswordReset(deps, ...args),
    redeemPasswordReset: (...args) => redeemPasswordReset(deps, ...args),
    issueRootRecovery: (...args) => issueRootRecovery(deps, ...args),
  };
}
