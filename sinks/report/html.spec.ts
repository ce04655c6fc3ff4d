import { describe, expect, it } from 'vitest';
import type { EvalMetric } from '../../schemas/eval-metric.ts';
import type { EvalReport, ReportScope, ReportScores } from './eval-report.ts';
import { renderEvalReport } from './html.ts';

const T0 = Date.UTC(2025, 0, 6);
const HOSTILE = '<script>alert("x")</script>';

function scores(logLoss: number, pnl: number): ReportScores {
  return { rows: 100, logLoss, brier: 0.6, accuracy: 0.4, ece: 0.02, priorLogLoss: 1.1, lastSignLogLoss: 1.09, trades: 10, pnl, hitRate: 0.5 };
}

function scope(name: string, kind: ReportScope['kind'], logLoss: number, pnl: number): ReportScope {
  return {
    scope: name,
    kind,
    modelVersion: 'v1',
    ...(kind === 'baseline' ? { baseline: name === 'class prior' ? ('prior' as const) : ('lastSign' as const) } : {}),
    inSampleRows: 7,
    total: scores(logLoss, pnl),
    reliability: Array.from({ length: 15 }, (_, b) => ({
      lo: b / 15,
      hi: (b + 1) / 15,
      count: b >= 5 && b <= 8 ? 25 : 0,
      confidence: b >= 5 && b <= 8 ? (b + 0.5) / 15 : Number.NaN,
      accuracy: b >= 5 && b <= 8 ? (b + 0.2) / 15 : Number.NaN,
    })),
    confusion: [
      [10, 20, 5],
      [3, 30, 2],
      [5, 20, 5],
    ],
    equity: Array.from({ length: 2000 }, (_, k) => ({ t: T0 + (k + 15) * 60_000, v: (pnl * (k + 1)) / 2000 / 2 })),
  };
}

function metric(scopeName: string, symbol: string, month: string, fold: number, logLoss: number): EvalMetric {
  return {
    id: `eval-${scopeName}-${symbol}-${month}-${fold}`,
    tsEvent: T0,
    tsInit: T0,
    runId: 'evalrun-1',
    scope: scopeName,
    modelVersion: 'v1',
    exchange: symbol === '*' ? '*' : 'synthetic',
    symbol,
    month,
    fold,
    ...scores(logLoss, -0.1),
  };
}

const report: EvalReport = {
  runId: 'evalrun-1',
  market: 'synthetic & "friends"',
  fromMs: T0,
  toMs: T0 + 2 * 86_400_000,
  instruments: ['synthetic:BTC/USDT', `synthetic:${HOSTILE}`],
  label: 'UP if r > band, DOWN if r < -band',
  horizonBars: 15,
  feeBps: 4,
  slippageBps: 2,
  foldMode: 'month',
  folds: [{ fold: 1, label: '2025-01', fromMs: T0, toMs: T0 + 2 * 86_400_000, rows: 200, baselineSource: 'card', baselineRows: 1000, prior: [0.3, 0.4, 0.3] }],
  weights: [
    { member: 'a', version: 'v1', weight: 0.5 },
    { member: 'b', version: 'v1', weight: 0.5 },
  ],
  weightsNote: 'equal weights',
  models: ['a', 'b'].map((m) => ({
    member: m,
    version: 'v1',
    role: 'CHAMPION',
    family: m === 'a' ? 'gbdt' : HOSTILE,
    trainer: 't 1',
    trainFromMs: T0 - 30 * 86_400_000,
    trainToMs: T0 - 10 * 86_400_000,
    validFromMs: T0 - 10 * 86_400_000,
    validToMs: T0 - 86_400_000,
    cardLogLoss: 1.08,
    cardAccuracy: 0.4,
    cardEce: undefined,
    sha256: 'ab'.repeat(32),
  })),
  counts: { bars: 1000, ingestDeadLetters: 0, vectors: 900, unlabelled: 30, rejected: 0, labelled: 870 },
  scopes: [scope('ensemble', 'ensemble', 1.085, -0.2), scope('a', 'member', 1.08, -0.5), scope('b', 'member', 1.09, 0.1), scope('class prior', 'baseline', 1.1, 0), scope('last-return sign', 'baseline', 1.095, 0)],
  equityNote: 'summed over trades / symbols',
  metrics: ['ensemble', 'a', 'b'].flatMap((s, k) => [
    metric(s, '*', '*', -1, 1.08 + k / 100),
    metric(s, '*', '2025-01', -1, 1.08 + k / 100),
    metric(s, '*', '*', 1, 1.08 + k / 100),
    metric(s, 'BTC/USDT', '*', -1, 1.07 + k / 100),
    metric(s, HOSTILE, '*', -1, 1.1 - k / 100),
  ]),
};

describe('renderEvalReport', () => {
  const html = renderEvalReport(report);

  it('is one self-contained page: no script, no external reference, every string escaped', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/https?:/i);
    expect(html).not.toMatch(/\s(src|href)=/i);
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(html).toContain('synthetic &amp; &quot;friends&quot;');
  });

  it('has the calibration plot, the equity curve and a confusion matrix per model, with sane coordinates', () => {
    const svgs = [...html.matchAll(/<svg id="([^"]+)"[^>]*viewBox="0 0 (\d+) (\d+)"[\s\S]*?<\/svg>/g)];
    expect(svgs.map((m) => m[1])).toEqual(['calibration', 'equity', 'confusion-0', 'confusion-1', 'confusion-2']);
    for (const [svg, , w, h] of svgs) {
      const size = Math.max(Number(w), Number(h));
      const numbers = [...svg.matchAll(/\s(?:x|y|x1|y1|x2|y2|cx|cy|r|width|height)="([^"]*)"/g)].map((m) => Number(m[1]));
      for (const pts of svg.matchAll(/\spoints="([^"]*)"/g)) numbers.push(...pts[1]!.split(/[ ,]/).map(Number));
      expect(numbers.length).toBeGreaterThan(20);
      expect(numbers.every((v) => Number.isFinite(v) && v >= 0 && v <= size)).toBe(true);
    }
    // The reliability diagram has the diagonal; the equity curve is thinned (2000 points per line drawn as at most 601).
    expect(svgs[0]![0]).toContain('class="diagonal"');
    const lines = [...svgs[1]![0].matchAll(/<polyline[^>]*points="([^"]*)"/g)].map((m) => m[1]!.split(' ').length);
    expect(lines).toHaveLength(5);
    expect(Math.max(...lines)).toBeLessThanOrEqual(601);
  });

  it('marks the best of each column in the summary and leaves a baseline\'s comparison with itself blank', () => {
    const summary = html.slice(html.indexOf('<h2>Summary'), html.indexOf('<h2>Calibration'));
    const rowOf = (name: string): string => summary.split('</tr>').find((r) => r.includes(`<td>${name}</td>`))!;
    // a has the lowest log loss; b the highest pnl.
    expect(rowOf('a')).toMatch(/1\.0800 <span class="star"/);
    expect(rowOf('b')).toMatch(/\+10\.00% <span class="star"/);
    expect(rowOf('ensemble')).not.toMatch(/1\.0850 <span class="star"/);
    const prior = rowOf('class prior (baseline)');
    expect(prior.match(/<td class="num">–<\/td>/g)?.length).toBeGreaterThanOrEqual(1);
  });

  it('has the per-fold, per-month and per-symbol tables from the metric rows', () => {
    const perSymbol = html.slice(html.indexOf('<h2>Per symbol'));
    expect(perSymbol).toContain('synthetic:BTC/USDT');
    expect(perSymbol).toContain('synthetic:&lt;script&gt;');
    const perMonth = html.slice(html.indexOf('<h2>Per month'), html.indexOf('<h2>Per symbol'));
    expect(perMonth).toContain('<td>2025-01</td>');
    expect((perMonth.match(/<tr/g) ?? []).length).toBe(1 + 3); // head + three scopes
    expect(html).toContain('1: 2025-01');
  });
});
