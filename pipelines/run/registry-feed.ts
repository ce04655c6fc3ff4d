import { concatMap, type Observable, type Subscription } from 'rxjs';
import type { Bus } from '../../schemas/ports.ts';
import type { RegistryEvent } from '../../schemas/registry-event.ts';
import { readRegistryLog, registryLogPath, watchRegistry } from '../../sources/registry-log.ts';

/** A running registry feed. */
export interface RegistryFeed {
  /** Stops tailing the log (an event being published still completes). */
  stop(): void;
  /**
   * Resolves once every event the log held at start is on the bus (so a stage that folds model.registry.v1 has the
   * roster before the first bar); rejects if the log cannot be read or a publish fails before that.
   */
  readonly published: Promise<void>;
}

/** Options of startRegistryFeed. */
export interface RegistryFeedOptions {
  /** How often the log is polled for new events (default 500 ms). */
  readonly pollMs?: number;
  /** Told of a failure after `published` settled (a corrupt log line, a publish error); the feed then stops. */
  readonly onError?: (error: unknown) => void;
  /** Polls on each value of this stream instead of every pollMs (a replay polls at bar steps, so a change lands between two). */
  readonly polls?: Observable<unknown>;
}

/**
 * Publishes the registry log `<registryDir>/registry.jsonl` to model.registry.v1 (key = member): every event already in
 * it at start, then each event appended by any process (the CLI, continuous learning), in seq order, each once per
 * feed. The registry must have been opened (Registry.open bootstraps the log); a missing log publishes nothing until
 * it appears.
 */
export function startRegistryFeed(bus: Bus, registryDir: string, opts: RegistryFeedOptions = {}): RegistryFeed {
  let resolveStart!: () => void;
  let rejectStart!: (e: unknown) => void;
  let started = false;
  const published = new Promise<void>((res, rej) => {
    resolveStart = () => {
      started = true;
      res();
    };
    rejectStart = (e) => {
      started = true;
      rej(e);
    };
  });
  const fail = (e: unknown): void => {
    if (!started) rejectStart(e);
    else opts.onError?.(e);
  };
  let sub: Subscription | undefined;
  let atStart: number;
  try {
    atStart = readRegistryLog(registryLogPath(registryDir)).at(-1)?.seq ?? 0;
  } catch (e) {
    fail(e);
    return { stop: () => undefined, published };
  }
  if (atStart === 0) resolveStart();
  sub = watchRegistry(registryDir, { pollMs: opts.pollMs, polls: opts.polls })
    .pipe(concatMap(async (e: RegistryEvent) => {
      await bus.publish('model.registry.v1', e.member, e);
      if (!started && e.seq >= atStart) resolveStart();
    }))
    .subscribe({ error: fail });
  return {
    stop: () => {
      sub?.unsubscribe();
      sub = undefined;
    },
    published,
  };
}
