/**
 * One line of `vecto doctor`: what was checked, whether it passed, and what the operator should know. Shared by
 * doctor.ts and the checks it delegates (doctor-keys.ts).
 */
export interface CheckResult {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}
