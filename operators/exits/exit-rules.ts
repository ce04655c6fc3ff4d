import { defer, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { concatMap } from 'rxjs/operators';
import type { ExitEvent } from '../../schemas/exit-event.ts';
import { ExitBook, type ExitInput, type ExitRulesConfig } from './exit-book.ts';

/**
 * Exit rules per position (stop-loss, take-profit ladder 40/40/20 on the filled quantity, break-even and trailing stop
 * after the first target) over risk orders, position updates, bars and entry order events in arrival order (an entry
 * rejected or cancelled unfilled drops its plan). State lives in one ExitBook per subscription; tsInit comes from the scheduler.
 */
export function exitRules(opts: { readonly scheduler: SchedulerLike; readonly config?: Partial<ExitRulesConfig> }): OperatorFunction<ExitInput, ExitEvent> {
  return (source) =>
    defer(() => {
      const book = new ExitBook(opts.config ?? {}, opts.scheduler);
      return source.pipe(concatMap((input) => book.step(input)));
    });
}
