/** Errors of the model registry: named classes with structured fields and a `retriable` flag. */

/** A registry change the rules refuse (unknown member or version, promote of the champion, rollback without history...). */
export class RegistryRuleError extends Error {
  override readonly name = 'RegistryRuleError';
  readonly retriable = false;
  constructor(
    /** The refused operation, e.g. `promote xgb v3`. */
    readonly operation: string,
    /** Every rule the change breaks, in words. */
    readonly reasons: readonly string[],
  ) {
    super(`cannot ${operation}: ${reasons.join('; ')}`);
  }
}

/** The registry lock stayed held by a live process past the timeout; retrying later may succeed. */
export class RegistryLockError extends Error {
  override readonly name = 'RegistryLockError';
  readonly retriable = true;
  constructor(
    readonly lockFile: string,
    /** What the lock file says about its holder (pid, host), or why it could not be read. */
    readonly holder: string,
    readonly waitedMs: number,
  ) {
    super(`registry lock ${lockFile} still held by ${holder} after ${waitedMs} ms`);
  }
}
