/**
 * Passwords: Argon2id in PHC string form, at least OWASP's minimum (m = 19 MiB, t = 2, p = 1),
 * rehashed at login when the configured parameters rise; a policy of length plus a bundled list
 * of common passwords (NIST SP 800-63B: no composition rules, block known-bad choices).
 *
 * Each hash or check runs in libuv's thread pool, which everything asynchronous in Node shares
 * (file I/O, DNS, zlib, WebCrypto): PasswordHasher runs at most `concurrency` of them at once,
 * fewer than the pool has threads, and queues the rest, so a login storm never holds every thread.
 */
import commonPasswordList from "./common-passwords.txt";
import { Semaphore } from "./semaphore.js";

export interface Argon2Params {
  readonly memoryKiB: number;
  readonly timeCost: number;
  readonly parallelism: number;
}

export const MIN_ARGON2: Argon2Params = { memoryKiB: 19 * 1024, timeCost: 2, parallelism: 1 };

export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 256;

const COMMON = new Set(
  commonPasswordList
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#")),
);

/** Why a new password is refused, in words for the user, or undefined when it is acceptable. */
export function passwordProblem(password: string, context: readonly string[] = []): string | undefined {
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH) return `must be at least ${PASSWORD_MIN_LENGTH} characters`;
  if (length > PASSWORD_MAX_LENGTH) return `must be at most ${PASSWORD_MAX_LENGTH} characters`;
  const lower = password.toLowerCase();
  if (COMMON.has(lower)) return "is too common; choose another";
  if (new Set(lower).size < 5) return "repeats too few different characters";
  if (context.some((word) => word.length >= 4 && lower.includes(word.toLowerCase())))
    return "must not contain your name or email";
  return undefined;
}

// argon2 is loaded on first use: inside the single binary its addon comes from the SEA assets.
type Argon2 = typeof import("argon2");
let argon2Module: Promise<Argon2> | undefined;
function argon2(): Promise<Argon2> {
  argon2Module ??= import("argon2");
  return argon2Module;
}

export class PasswordHasher {
  private dummyHash: Promise<string> | undefined;
  private readonly slots: Semaphore;

  /** `concurrency`: hashes and checks at once (Config.argon2Concurrency: below the thread pool's size). */
  constructor(
    private readonly params: Argon2Params,
    concurrency: number,
  ) {
    if (params.memoryKiB < MIN_ARGON2.memoryKiB || params.timeCost < MIN_ARGON2.timeCost || params.parallelism < 1) {
      throw new Error("argon2 parameters below the OWASP minimum (m=19 MiB, t=2, p=1)");
    }
    this.slots = new Semaphore(concurrency);
  }

  async hash(password: string): Promise<string> {
    const { hash, argon2id } = await argon2();
    return this.slots.run(() =>
      hash(password, {
        type: argon2id,
        memoryCost: this.params.memoryKiB,
        timeCost: this.params.timeCost,
        parallelism: this.params.parallelism,
      }),
    );
  }

  /** Verifies; `rehash` is true when the stored hash used weaker parameters than configured now. */
  async verify(stored: string, password: string): Promise<{ ok: boolean; rehash: boolean }> {
    const { verify, needsRehash } = await argon2();
    let ok = false;
    try {
      ok = await this.slots.run(() => verify(stored, password));
    } catch {
      return { ok: false, rehash: false };
    }
    const rehash =
      ok &&
      needsRehash(stored, {
        memoryCost: this.params.memoryKiB,
        timeCost: this.params.timeCost,
        parallelism: this.params.parallelism,
      });
    return { ok, rehash };
  }

  /** Spends the same time as a real check, for unknown accounts: no user enumeration by timing. */
  async verifyNothing(password: string): Promise<void> {
    this.dummyHash ??= this.hash("vecto timing equaliser, never a real password");
    await this.verify(await this.dummyHash, password);
  }
}
