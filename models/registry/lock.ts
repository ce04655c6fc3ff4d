import { closeSync, fsyncSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { RegistryLockError } from './errors.ts';

/** Options of withFileLock. */
export interface FileLockOptions {
  /** Give up (RegistryLockError, retriable) when a live holder keeps the lock this long (default 10 s). */
  readonly timeoutMs?: number;
  /** Retry interval while the lock is held (default 20 ms). */
  readonly pollMs?: number;
  /** Told when a stale lock is taken over. */
  readonly onWarning?: (message: string) => void;
}

/** What a lock file holds: who holds it. */
interface Holder {
  readonly pid: number;
  readonly host: string;
}

/** Tells two holders of this process apart (two Registry instances on one folder). */
let acquisitions = 0;

/** A lock file that cannot be parsed is a holder between create and write, unless it is older than this. */
const UNREADABLE_STALE_MS = 5_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readHolder(file: string): { text: string; holder?: Holder } | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const h = JSON.parse(text) as Partial<Holder>;
    if (typeof h.pid === 'number' && typeof h.host === 'string') return { text, holder: { pid: h.pid, host: h.host } };
  } catch {
    // fall through: unreadable
  }
  return { text };
}

/** Why the holder of a lock is gone, or undefined while it may be alive. */
function staleBecause(file: string, seen: { text: string; holder?: Holder }): string | undefined {
  const h = seen.holder;
  if (h) {
    // A pid on another host cannot be checked from here: that lock is waited for.
    if (h.host === hostname() && !alive(h.pid)) return `held by pid ${h.pid}, which is not running`;
    return undefined;
  }
  try {
    if (Date.now() - statSync(file).mtimeMs > UNREADABLE_STALE_MS) return `unreadable for more than ${UNREADABLE_STALE_MS / 1000} s`;
  } catch {
    return undefined;
  }
  return undefined;
}

function tryCreate(file: string, text: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Runs `fn` holding an exclusive lock file created with O_EXCL (`wx`), in this process and against other processes on
 * the machine; the file holds the holder's pid and host. A lock whose holder is a dead pid of this host (a crash) is
 * taken over with a warning. The lock is removed after `fn`, also when it throws.
 */
export async function withFileLock<T>(file: string, fn: () => T | Promise<T>, opts: FileLockOptions = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const pollMs = opts.pollMs ?? 20;
  const mine = JSON.stringify({ pid: process.pid, host: hostname(), token: ++acquisitions });
  // Wall time only bounds the wait; it never reaches the registry's events.
  const start = Date.now();
  let lastHolder = 'unknown';
  while (!tryCreate(file, mine)) {
    const seen = readHolder(file);
    if (seen === undefined) continue;
    const why = staleBecause(file, seen);
    if (why !== undefined) {
      // Remove only the stale file read above: a holder that replaced it meanwhile keeps its lock.
      const again = readHolder(file);
      if (again?.text === seen.text) {
        try {
          unlinkSync(file);
          opts.onWarning?.(`registry lock ${file} ${why}: taken over`);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        }
      }
      continue;
    }
    lastHolder = seen.holder ? `pid ${seen.holder.pid} on ${seen.holder.host}` : `an unreadable lock (${JSON.stringify(seen.text.slice(0, 60))})`;
    const waited = Date.now() - start;
    if (waited >= timeoutMs) throw new RegistryLockError(file, lastHolder, waited);
    await new Promise((r) => setTimeout(r, pollMs));
  }
  try {
    return await fn();
  } finally {
    const seen = readHolder(file);
    if (seen?.text === mine) unlinkSync(file);
  }
}
