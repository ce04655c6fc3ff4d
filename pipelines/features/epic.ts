import type { Observable, SchedulerLike } from 'rxjs';
import { map } from 'rxjs/operators';
import { featureVectors } from '../../operators/features/feature-vectors.ts';
import type { Bar } from '../../schemas/bar.ts';
import { instrumentKey } from '../../schemas/common.ts';
import { out, type Outgoing } from '../../schemas/ports.ts';

/** Features: closed bars in, one feature vector per bar out (after the warm-up), computed from the past only. */
export function featuresEpic(inputs: { readonly bars: Observable<Bar> }, deps: { readonly scheduler: SchedulerLike }): Observable<Outgoing> {
  return inputs.bars.pipe(
    featureVectors({ scheduler: deps.scheduler }),
    map((v) => out('feat.vectors.v1', instrumentKey(v), v)),
  );
}
