import { merge, type Observable, type SchedulerLike } from 'rxjs';
import { map } from 'rxjs/operators';
import { brains, type BrainsConfig, type BrainsEvent } from '../../operators/brains/brains.ts';
import { instrumentKey } from '../../schemas/common.ts';
import type { EnsembleSignal } from '../../schemas/ensemble-signal.ts';
import type { Equity } from '../../schemas/equity.ts';
import type { Position } from '../../schemas/position.ts';
import { out, type Outgoing } from '../../schemas/ports.ts';

/**
 * Brains: ensemble signals, equity points and positions in, one brain.decisions.v1 message (intent or refusal) per
 * signal out. The three inputs are merged into one tagged stream and folded over one state in arrival order (no
 * combineLatest), so a replay gives the same decisions; tsInit comes from the scheduler.
 */
export function brainsEpic(
  inputs: { readonly signals: Observable<EnsembleSignal>; readonly equity: Observable<Equity>; readonly positions: Observable<Position> },
  deps: { readonly scheduler: SchedulerLike; readonly config?: Partial<BrainsConfig> },
): Observable<Outgoing> {
  const tagged: Observable<BrainsEvent> = merge(
    inputs.signals.pipe(map((signal): BrainsEvent => ({ kind: 'signal', signal }))),
    inputs.equity.pipe(map((equity): BrainsEvent => ({ kind: 'equity', equity }))),
    inputs.positions.pipe(map((position): BrainsEvent => ({ kind: 'position', position }))),
  );
  return tagged.pipe(
    brains(deps),
    map((d) => out('brain.decisions.v1', instrumentKey(d), d)),
  );
}
