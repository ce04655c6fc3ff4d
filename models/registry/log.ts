import { closeSync, fsyncSync, mkdirSync, openSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { codecFor } from '../../schemas/codec.ts';
import { deriveId } from '../../schemas/ids.ts';
import { RegistryEventSchema, type RegistryEvent } from '../../schemas/registry-event.ts';
import { RegistryLogReader, registryLogPath } from '../../sources/registry-log.ts';
import { withFileLock, type FileLockOptions } from './lock.ts';
import type { RegistryChange } from './roster.ts';

/** A change with its times, ready for the log to give it a seq and an id. */
export type TimedChange = RegistryChange & { readonly tsEvent: number; readonly tsInit: number };

/** Lock file of a registry folder. */
export const REGISTRY_LOCK_FILE = 'registry.lock';

const codec = codecFor(RegistryEventSchema);

/** The event of a change at `seq`, fields in schema order (so the log's lines are byte-identical for the same input). */
export function stampChange(c: TimedChange, seq: number): RegistryEvent {
  const e: RegistryEvent = {
    id: deriveId('reg', seq),
    tsEvent: c.tsEvent,
    tsInit: c.tsInit,
    seq,
    member: c.member,
    action: c.action,
    version: c.version,
    champion: c.champion,
    previousChampion: c.previousChampion,
    shadows: [...c.shadows],
    dir: c.dir,
    actor: c.actor,
    reason: c.reason,
  };
  const paths: string[] = [];
  if (!codec.type.isValid(e, { errorHook: (p: string[]) => paths.push(p.join('.')) })) {
    throw new TypeError(`registry change is not a valid RegistryEvent at ${paths.join(', ')}: ${JSON.stringify(e)}`);
  }
  return e;
}

/**
 * The registry log file `<dir>/registry.jsonl` with its writer's protocol. Appends hold the lock file
 * `<dir>/registry.lock` (O_EXCL), re-read the log's tail, plan against the events as they are now, and write the whole
 * batch of lines with one write and an fsync: two processes never interleave lines or reuse a seq. A partial last line
 * found under the lock is a torn write of a crashed appender (a live one would hold the lock) and is truncated first.
 */
export class RegistryLog {
  /** The log file. */
  readonly file: string;
  /** The lock file. */
  readonly lockFile: string;
  private readonly reader: RegistryLogReader;
  private readonly all: RegistryEvent[] = [];

  constructor(
    readonly dir: string,
    private readonly opts: FileLockOptions = {},
  ) {
    this.file = registryLogPath(dir);
    this.lockFile = join(dir, REGISTRY_LOCK_FILE);
    this.reader = new RegistryLogReader(this.file);
  }

  /** Every event of the log, re-reading what was appended since the last call. */
  events(): readonly RegistryEvent[] {
    const fresh = this.reader.poll();
    if (fresh.length > 0) this.all.push(...fresh);
    return this.all;
  }

  /**
   * Under the lock: reads the log up to date, asks `plan` for the changes to make given every event so far (it may
   * throw to refuse, or return none), appends them as one batch and returns the appended events.
   */
  async append(plan: (events: readonly RegistryEvent[]) => readonly TimedChange[]): Promise<RegistryEvent[]> {
    mkdirSync(this.dir, { recursive: true });
    return withFileLock(
      this.lockFile,
      () => {
        const events = this.events();
        if (this.reader.tornBytes > 0) {
          this.opts.onWarning?.(`registry log ${this.file}: dropped a torn last line of ${this.reader.tornBytes} bytes (an append that did not finish)`);
          truncateSync(this.file, this.reader.offset);
        }
        const changes = plan(events);
        if (changes.length === 0) return [];
        const first = this.reader.lastSeq + 1;
        const stamped = changes.map((c, i) => stampChange(c, first + i));
        const bytes = Buffer.from(stamped.map((e) => `${JSON.stringify(e)}\n`).join(''), 'utf8');
        const created = first === 1;
        const fd = openSync(this.file, 'a');
        try {
          // One write of complete lines; the loop only matters if the OS writes less than asked.
          let done = 0;
          while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        if (created) syncDir(this.dir);
        const read = this.events().slice(-stamped.length);
        if (read.length !== stamped.length || read[0]?.seq !== first) {
          throw new Error(`registry log ${this.file}: appended seq ${first}..${first + stamped.length - 1} but read back ${read.map((e) => e.seq).join(',')}`);
        }
        return stamped;
      },
      this.opts,
    );
  }
}

/** Makes a new file's directory entry durable (not supported on every platform: best effort). */
function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Windows cannot open a directory; the file's own fsync is what matters most.
  }
}
