import { merge, type Observable, type SchedulerLike } from 'rxjs';
import { map } from 'rxjs/operators';
import { riskGate, type RiskConfig, type RiskEvent } from '../../operators/risk/risk-gate.ts';
import type { BrainDecision } from '../../schemas/brain-decision.ts';
import { instrumentKey } from '../../schemas/common.ts';
import type { Equity } from '../../schemas/equity.ts';
import type { Position } from '../../schemas/position.ts';
import { out, type Outgoing } from '../../schemas/ports.ts';

/**
 * Risk: brain decisions, equity points and positions in, one risk.orders.v1 message (approved with size, or denied
 * with a reason) per INTENT out; refusals produce nothing. The inputs are merged into one tagged stream and folded
 * over one state in arrival order, so a replay gives the same orders; tsInit comes from the scheduler.
 */
export function riskEpic(
  inputs: { readonly decisions: Observable<BrainDecision>; readonly equity: Observable<Equity>; readonly positions: Observable<Position> },
  deps: { readonly scheduler: SchedulerLike; readonly config?: Partial<RiskConfig> },
): Observable<Outgoing> {
  const tagged: Observable<RiskEvent> = merge(
    inputs.decisions.pipe(map((decision): RiskEvent => ({ kind: 'decision', decision }))),
    inputs.equity.pipe(map((equity): RiskEvent => ({ kind: 'equity', equity }))),
    inputs.positions.pipe(map((position): RiskEvent => ({ kind: 'position', position }))),
  );
  return tagged.pipe(
    riskGate(deps),
    map((o) => out('risk.orders.v1', instrumentKey(o), o)),
  );
}
