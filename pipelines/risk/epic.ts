import { EMPTY, merge, type Observable, type SchedulerLike } from 'rxjs';
import { map } from 'rxjs/operators';
import { riskGate, type RiskConfig, type RiskInput } from '../../operators/risk/risk-gate.ts';
import type { BrainDecision } from '../../schemas/brain-decision.ts';
import { instrumentKey } from '../../schemas/common.ts';
import type { Equity } from '../../schemas/equity.ts';
import type { OrderEvent } from '../../schemas/order-event.ts';
import type { Position } from '../../schemas/position.ts';
import { out, type Outgoing } from '../../schemas/ports.ts';

/** Inputs of the risk stage. */
export interface RiskInputs {
  readonly decisions: Observable<BrainDecision>;
  readonly equity: Observable<Equity>;
  readonly positions: Observable<Position>;
  /**
   * exec.orders.v1: an entry's fills, and its end (FILLED, CANCELLED, REJECTED) that frees its instrument and margin at
   * once. Without it a rejected or cancelled entry blocks its instrument until pendingEntryTtlMs.
   */
  readonly orders?: Observable<OrderEvent>;
}

/**
 * Risk: brain decisions, equity points, positions and order events in, one risk.orders.v1 message (approved with size
 * and leverage, or denied with a reason) per INTENT out; refusals produce nothing. The inputs are merged into one tagged
 * stream and folded over one state in arrival order, so a replay gives the same orders; tsInit comes from the scheduler.
 */
export function riskEpic(inputs: RiskInputs, deps: { readonly scheduler: SchedulerLike; readonly config?: Partial<RiskConfig> }): Observable<Outgoing> {
  const tagged: Observable<RiskInput> = merge(
    inputs.decisions.pipe(map((decision): RiskInput => ({ kind: 'decision', decision }))),
    inputs.equity.pipe(map((equity): RiskInput => ({ kind: 'equity', equity }))),
    inputs.positions.pipe(map((position): RiskInput => ({ kind: 'position', position }))),
    (inputs.orders ?? EMPTY).pipe(map((event): RiskInput => ({ kind: 'execution', event }))),
  );
  return tagged.pipe(
    riskGate(deps),
    map((o) => out('risk.orders.v1', instrumentKey(o), o)),
  );
}
