import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { Observable, asyncScheduler, interval, type SchedulerLike } from 'rxjs';
import { codecFor } from '../schemas/codec.ts';
import { RegistryEventSchema, type RegistryEvent } from '../schemas/registry-event.ts';

/** File name of the registry log inside the registry folder. */
export const REGISTRY_LOG_FILE = 'registry.jsonl';

/** The registry log of a registry folder: `<registryDir>/registry.jsonl`. */
export function registryLogPath(registryDir: string): string {
  return join(registryDir, REGISTRY_LOG_FILE);
}

/**
 * A complete line of the registry log that is not a RegistryEvent, or whose seq breaks the 1, 2, 3... sequence, or a
 * log that shrank below what was already read. Not a torn write (a torn write only leaves a partial last line): the
 * log is the source of truth, so the process stops rather than guess.
 */
export class RegistryLogCorruptError extends Error {
  override readonly name = 'RegistryLogCorruptError';
  readonly retriable = false;
  constructor(
    readonly file: string,
    /** 1-based line number, 0 when the problem is not one line. */
    readonly line: number,
    readonly problem: string,
  ) {
    super(`registry log ${file}${line > 0 ? ` line ${line}` : ''}: ${problem}`);
  }
}

const codec = codecFor(RegistryEventSchema);
const NEWLINE = 0x0a;

/**
 * Reads the registry log incrementally: each poll() returns the complete lines appended since the last poll, parsed and
 * checked (schema, seq = previous + 1). A trailing line without its newline is a write in progress or a torn write
 * after a crash: it is left unread (see tornBytes) until it is completed, or truncated by the next appender.
 */
export class RegistryLogReader {
  private consumed = 0;
  private lines = 0;
  private seq = 0;
  private torn = 0;

  constructor(readonly file: string) {}

  /** Byte offset just after the last complete line read. */
  get offset(): number {
    return this.consumed;
  }

  /** Seq of the last event read (0 before any). */
  get lastSeq(): number {
    return this.seq;
  }

  /** Bytes after the last complete line at the last poll: a partial line (in progress or torn). */
  get tornBytes(): number {
    return this.torn;
  }

  /** The events of the complete lines appended since the last call; none while the file does not exist. */
  poll(): RegistryEvent[] {
    let fd: number;
    try {
      fd = openSync(this.file, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        if (this.consumed > 0) throw new RegistryLogCorruptError(this.file, 0, `the log disappeared after ${this.consumed} bytes were read`);
        return [];
      }
      throw e;
    }
    try {
      const size = fstatSync(fd).size;
      if (size < this.consumed) throw new RegistryLogCorruptError(this.file, 0, `the log shrank to ${size} bytes below the ${this.consumed} already read`);
      if (size === this.consumed) {
        this.torn = 0;
        return [];
      }
      const buf = Buffer.alloc(size - this.consumed);
      let got = 0;
      while (got < buf.length) {
        const n = readSync(fd, buf, got, buf.length - got, this.consumed + got);
        if (n === 0) break;
        got += n;
      }
      const end = buf.subarray(0, got).lastIndexOf(NEWLINE) + 1;
      this.torn = got - end;
      if (end === 0) return [];
      // Parsed into locals first: a corrupt line leaves the reader where it was.
      const events: RegistryEvent[] = [];
      let lineNo = this.lines;
      let seq = this.seq;
      for (const line of buf.subarray(0, end).toString('utf8').split('\n').slice(0, -1)) {
        lineNo++;
        if (line.trim() === '') continue;
        const e = this.parse(line, lineNo, seq);
        seq = e.seq;
        events.push(e);
      }
      this.lines = lineNo;
      this.seq = seq;
      this.consumed += end;
      return events;
    } finally {
      closeSync(fd);
    }
  }

  private parse(line: string, lineNo: number, prevSeq: number): RegistryEvent {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new RegistryLogCorruptError(this.file, lineNo, `not JSON: ${(e as Error).message}`);
    }
    const paths: string[] = [];
    if (!codec.type.isValid(value, { errorHook: (p: string[]) => paths.push(p.join('.')) })) {
      throw new RegistryLogCorruptError(this.file, lineNo, `not a RegistryEvent (at ${paths.join(', ') || 'the root'})`);
    }
    const event = value as RegistryEvent;
    if (event.seq !== prevSeq + 1) throw new RegistryLogCorruptError(this.file, lineNo, `seq ${event.seq} after ${prevSeq}: the log must count 1, 2, 3... without gaps`);
    return event;
  }
}

/** Every event of the complete lines of a registry log file (none when it does not exist). */
export function readRegistryLog(file: string): RegistryEvent[] {
  return new RegistryLogReader(file).poll();
}

/** Options of watchRegistry. */
export interface WatchRegistryOptions {
  /** How often the file size is polled (default 500 ms). */
  readonly pollMs?: number;
  /** Emit only events with a greater seq (default 0: the whole log, then what is appended). */
  readonly afterSeq?: number;
  /** Scheduler of the polls (default asyncScheduler). */
  readonly scheduler?: SchedulerLike;
  /**
   * Polls on each value of this stream instead of a timer: a replay polls at bar steps (a periodic action on a virtual
   * time scheduler chains one subscription per tick, which overflows the stack on unsubscribe after a long replay).
   */
  readonly polls?: Observable<unknown>;
}

/**
 * Tails `<registryDir>/registry.jsonl`: on subscribe, synchronously, the events already in the log (after `afterSeq`),
 * then each event appended, in seq order, each once. Polls the file (fs.watch misses events on some file systems and
 * reports partial writes); a partial last line is not emitted until its newline is written. Errors with
 * RegistryLogCorruptError when the log breaks its rules. A missing file is an empty log.
 */
export function watchRegistry(registryDir: string, opts: WatchRegistryOptions = {}): Observable<RegistryEvent> {
  const pollMs = opts.pollMs ?? 500;
  const afterSeq = opts.afterSeq ?? 0;
  return new Observable<RegistryEvent>((subscriber) => {
    const reader = new RegistryLogReader(registryLogPath(registryDir));
    const tick = (): void => {
      try {
        for (const e of reader.poll()) {
          if (subscriber.closed) return;
          if (e.seq > afterSeq) subscriber.next(e);
        }
      } catch (err) {
        subscriber.error(err);
      }
    };
    tick();
    if (subscriber.closed) return undefined;
    const timer = (opts.polls ?? interval(pollMs, opts.scheduler ?? asyncScheduler)).subscribe(tick);
    return () => timer.unsubscribe();
  });
}
