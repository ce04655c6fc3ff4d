import { EvaluationError } from './errors.ts';

/** How the evaluated period is cut into walk-forward folds: calendar months (UTC), or n blocks of equal length. */
export type FoldSpec = { readonly kind: 'month' } | { readonly kind: 'blocks'; readonly n: number };

/** One walk-forward fold: [fromMs, toMs), numbered from 1 in time order (the journal's -1 means all folds). */
export interface Fold {
  readonly fold: number;
  /** `YYYY-MM` for a month fold, `block k/n` for a block. */
  readonly label: string;
  readonly fromMs: number;
  readonly toMs: number;
}

/** Largest number of blocks accepted (each fold becomes rows in the journal and the report). */
export const MAX_BLOCKS = 120;

/** Parses `--folds`: `month` (default) or a block count 1..MAX_BLOCKS; throws EvaluationError BAD_FOLDS. */
export function parseFoldSpec(raw: string | undefined): FoldSpec {
  if (raw === undefined || raw === 'month' || raw === 'months') return { kind: 'month' };
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_BLOCKS) {
    throw new EvaluationError('BAD_FOLDS', `--folds expects month or an integer 1..${MAX_BLOCKS}, got ${raw}`);
  }
  return { kind: 'blocks', n: Number(raw) };
}

/** The settings text of a fold spec (goes into the run id and the report). */
export function foldSpecText(spec: FoldSpec): string {
  return spec.kind === 'month' ? 'month' : `${spec.n} blocks`;
}

/** The UTC calendar month `YYYY-MM` of a time. */
export function monthOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 7);
}

function nextMonthStart(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

/**
 * Cuts the evaluated period [fromMs, toMs) (bar open times, fromMs on the bar grid) into consecutive folds: the calendar
 * months it touches, clipped to the period, or `n` blocks of (as near as the bar grid allows) equal length.
 */
export function cutFolds(fromMs: number, toMs: number, spec: FoldSpec, barMs: number): Fold[] {
  if (!(toMs > fromMs)) throw new EvaluationError('BAD_FOLDS', `empty evaluated period ${fromMs} .. ${toMs}`);
  if (spec.kind === 'month') {
    const folds: Fold[] = [];
    for (let start = fromMs; start < toMs; ) {
      const end = Math.min(toMs, nextMonthStart(start));
      folds.push({ fold: folds.length + 1, label: monthOf(start), fromMs: start, toMs: end });
      start = end;
    }
    return folds;
  }
  const bars = Math.ceil((toMs - fromMs) / barMs);
  if (spec.n > bars) throw new EvaluationError('BAD_FOLDS', `${spec.n} folds asked for, but the evaluated period has only ${bars} bars`);
  const edge = (k: number): number => (k === spec.n ? toMs : fromMs + Math.round((k * bars) / spec.n) * barMs);
  return Array.from({ length: spec.n }, (_, k) => ({ fold: k + 1, label: `block ${k + 1}/${spec.n}`, fromMs: edge(k), toMs: edge(k + 1) }));
}

/** Index in `folds` (0-based) of the fold holding time t, -1 when t is outside every fold. */
export function foldIndexOf(folds: readonly Fold[], t: number): number {
  let lo = 0;
  let hi = folds.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const f = folds[mid]!;
    if (t < f.fromMs) hi = mid - 1;
    else if (t >= f.toMs) lo = mid + 1;
    else return mid;
  }
  return -1;
}
