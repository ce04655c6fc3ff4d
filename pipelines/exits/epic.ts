import { EMPTY, merge, type Observable, type SchedulerLike } from 'rxjs';
import { map } from 'rxjs/operators';
import type { ExitInput, ExitRulesConfig } from '../../operators/exits/exit-book.ts';
import { exitRules } from '../../operators/exits/exit-rules.ts';
import type { Bar } from '../../schemas/bar.ts';
import { instrumentKey } from '../../schemas/common.ts';
import type { OrderEvent } from '../../schemas/order-event.ts';
import { out, type Outgoing } from '../../schemas/ports.ts';
import type { Position } from '../../schemas/position.ts';
import type { RiskOrder } from '../../schemas/risk-order.ts';

/** Inputs of the exits stage. */
export interface ExitsInputs {
  readonly orders: Observable<RiskOrder>;
  readonly positions: Observable<Position>;
  readonly bars: Observable<Bar>;
  /** exec.orders.v1: an entry rejected, or cancelled with nothing filled, drops its exit plan at once. */
  readonly orderEvents?: Observable<OrderEvent>;
}

/** Dependencies of the exits stage: the scheduler stamps tsInit; config overrides the exit rules' defaults. */
export interface ExitsDeps {
  readonly scheduler: SchedulerLike;
  readonly config?: Partial<ExitRulesConfig>;
}

/**
 * Exits: the stop, take-profit ladder, break-even and trailing rules of every position, evaluated on each bar against
 * the position as last published; triggers and rule moves go to exit.events.v1. Entry order events from exec.orders.v1
 * drop the plan of an entry that dies unfilled (without them such a plan waits until a newer plan on its instrument).
 */
export function exitsEpic(inputs: ExitsInputs, deps: ExitsDeps): Observable<Outgoing> {
  return merge(
    inputs.orders.pipe(map((order): ExitInput => ({ kind: 'order', order }))),
    inputs.positions.pipe(map((position): ExitInput => ({ kind: 'position', position }))),
    inputs.bars.pipe(map((bar): ExitInput => ({ kind: 'bar', bar }))),
    (inputs.orderEvents ?? EMPTY).pipe(map((event): ExitInput => ({ kind: 'execution', event }))),
  ).pipe(
    exitRules({ scheduler: deps.scheduler, config: deps.config }),
    map((e) => out('exit.events.v1', instrumentKey(e), e)),
  );
}
