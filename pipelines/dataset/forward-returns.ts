import { concat, defer, from, type OperatorFunction } from 'rxjs';
import { mergeMap } from 'rxjs/operators';
import { instrumentKey } from '../../schemas/common.ts';
import type { FeatureVector } from '../../schemas/feature-vector.ts';

/** A feature vector with the log return from its close to the close `horizon` bars later (null when unknown). */
export interface LabelledVector {
  readonly vector: FeatureVector;
  readonly fwdRet: number | null;
}

/**
 * Pairs each vector with its forward log return `log(close[t+H] / close[t])`, per instrument. A vector is emitted once
 * the bar H intervals later has arrived (its return is known) or cannot arrive any more (a later bar skipped it: a
 * gap, or warm-up after a gap) — then with null; the vectors still waiting when the source completes follow with null.
 * Future information lives only in `fwdRet`; the features are the serving features unchanged.
 */
export function forwardReturns(horizon: number, intervalMs = 60_000): OperatorFunction<FeatureVector, LabelledVector> {
  if (!Number.isInteger(horizon) || horizon < 1) throw new RangeError(`horizon must be a positive integer, got ${horizon}`);
  const aheadMs = horizon * intervalMs;
  return (source) =>
    defer(() => {
      // Per instrument, vectors waiting for their forward bar, oldest first (a queue with a moving head).
      const pending = new Map<string, { queue: FeatureVector[]; head: number }>();
      const step = (v: FeatureVector): LabelledVector[] => {
        const k = instrumentKey(v);
        let p = pending.get(k);
        if (p === undefined) {
          p = { queue: [], head: 0 };
          pending.set(k, p);
        }
        const ready: LabelledVector[] = [];
        while (p.head < p.queue.length && p.queue[p.head]!.openTime + aheadMs <= v.openTime) {
          const r = p.queue[p.head++]!;
          ready.push({ vector: r, fwdRet: r.openTime + aheadMs === v.openTime ? Math.log(v.close / r.close) : null });
        }
        if (p.head > 1024 && p.head * 2 > p.queue.length) {
          p.queue = p.queue.slice(p.head);
          p.head = 0;
        }
        p.queue.push(v);
        return ready;
      };
      const rest = (): LabelledVector[] =>
        [...pending.values()].flatMap((p) => p.queue.slice(p.head).map((vector) => ({ vector, fwdRet: null })));
      return concat(source.pipe(mergeMap(step)), defer(() => from(rest())));
    });
}
