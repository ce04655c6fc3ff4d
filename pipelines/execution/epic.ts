import { defer, merge, type Observable, type SchedulerLike } from 'rxjs';
import { concatMap, map } from 'rxjs/operators';
import type { BrokerConfig } from '../../gateways/paper/broker-config.ts';
import { printOfBar } from '../../gateways/paper/market-print.ts';
import { PaperBroker, type BrokerInput } from '../../gateways/paper/paper-broker.ts';
import type { Bar } from '../../schemas/bar.ts';
import type { ExitEvent } from '../../schemas/exit-event.ts';
import type { Outgoing } from '../../schemas/ports.ts';
import type { RiskOrder } from '../../schemas/risk-order.ts';

/** Inputs of the execution stage. */
export interface ExecutionInputs {
  readonly orders: Observable<RiskOrder>;
  readonly exits: Observable<ExitEvent>;
  readonly bars: Observable<Bar>;
}

/** Dependencies of the execution stage: the scheduler stamps tsInit; config overrides the paper broker's defaults. */
export interface ExecutionDeps {
  readonly scheduler: SchedulerLike;
  readonly config?: Partial<BrokerConfig>;
}

/**
 * Paper execution: approved risk orders (entries), exit orders and bars, merged in arrival order into one paper
 * broker per subscription; out come exec.orders.v1, exec.fills.v1, pos.positions.v1 and pos.equity.v1.
 */
export function executionEpic(inputs: ExecutionInputs, deps: ExecutionDeps): Observable<Outgoing> {
  return defer(() => {
    const broker = new PaperBroker(deps.config ?? {}, deps.scheduler);
    const input$: Observable<BrokerInput> = merge(
      inputs.orders.pipe(map((order): BrokerInput => ({ kind: 'order', order }))),
      inputs.exits.pipe(map((exit): BrokerInput => ({ kind: 'exit', exit }))),
      inputs.bars.pipe(map((bar): BrokerInput => ({ kind: 'print', print: printOfBar(bar) }))),
    );
    return input$.pipe(concatMap((input) => broker.step(input)));
  });
}
