import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, Subject } from 'rxjs';
import { filter, map, toArray } from 'rxjs/operators';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../models/load.ts';
import type { ClassifierModel } from '../models/model-port.ts';
import { labelOf, logLoss, type ClassIndex } from '../operators/ensemble/scoring.ts';
import { FEATURE_NAMES, featureIndex } from '../operators/features/feature-set.ts';
import type { Bar } from '../schemas/bar.ts';
import type { FeatureVector } from '../schemas/feature-vector.ts';
import type { SourceRecord } from '../schemas/source-record.ts';
import type { Trade } from '../schemas/trade.ts';
import { evaluateCli } from '../pipelines/cli/evaluate.ts';
import type { CliIo } from '../pipelines/cli/common.ts';
import { loadConfig } from '../pipelines/config.ts';
import { featuresEpic } from '../pipelines/features/epic.ts';
import { ingestEpic } from '../pipelines/ingest/epic.ts';
import { ReplayScheduler } from '../pipelines/replay-scheduler.ts';
import { openMarket } from '../pipelines/run/market.ts';
import { openJournal } from '../sinks/journal/open.ts';

const ROOT = join(import.meta.dirname, '..');
const tmp = mkdtempSync(join(tmpdir(), 'qt-evaluate-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs `qt evaluate <argv>` in this process with captured output. */
async function qtEvaluate(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (append: (s: string) => void) => ({ write: (s: string) => (append(s), true) }) as unknown as NodeJS.WriteStream;
  // A registry of its own (bootstrapped from the shipped store), not the working copy's var/registry.
  const env = { QT_ENSEMBLE_REGISTRY_DIR: join(tmp, 'registry') };
  const io: CliIo = { stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)), env, wallNow: () => 0 };
  const code = await evaluateCli(argv, io);
  return { code, stdout, stderr };
}

// Synthetic data starts 2025-01-06, before the shipped cards' training range (May 2025): every row is out of sample.
const SYMBOLS = ['BTC/USDT', 'ETH/USDT', 'SOL/USDT'];
const MARKET = ['--symbols', SYMBOLS.join(','), '--days', '2', '--seed', '11'];
const MEMBERS = ['lgbm', 'nhits', 'patchtst', 'xgb'];
const journalPath = join(tmp, 'journal');
const out = join(tmp, 'report', 'evaluate.html');
const ARGS = [...MARKET, '--folds', '2', '--journal', journalPath, '--out', out];

/** A qt.eval_metrics row as the journal returns it (64-bit integers may come back as strings). */
interface Row {
  id: string;
  run_id: string;
  scope: string;
  model_version: string;
  exchange: string;
  symbol: string;
  month: string;
  fold: number;
  rows: number;
  log_loss: number;
  prior_log_loss: number;
  last_sign_log_loss: number;
  trades: number;
  pnl: number;
}

async function journalRows(sql: string): Promise<Row[]> {
  const journal = await openJournal({ path: journalPath, batchRows: 1000 });
  try {
    const rows = await journal.query<Record<string, unknown>>(sql);
    return rows.map((r) => ({ ...r, fold: Number(r.fold), rows: Number(r.rows), trades: Number(r.trades) }) as unknown as Row);
  } finally {
    await journal.close();
  }
}

describe('qt evaluate', () => {
  let run: { code: number; stdout: string; stderr: string };
  let runId: string;
  let rows: Row[];

  beforeAll(async () => {
    run = await qtEvaluate(ARGS);
    runId = /run\s+(evalrun-[0-9a-f]+)/.exec(run.stdout)?.[1] ?? '';
    rows = await journalRows(`SELECT * FROM qt.eval_metrics FINAL WHERE run_id = '${runId}'`);
  });

  it('exits 0 and prints the run, a line per scope, the report and the journal', () => {
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(runId).toMatch(/^evalrun-[0-9a-f]{20}$/);
    expect(run.stdout).toContain('synthetic market, 3 symbols, seed 11');
    expect(run.stdout).toContain('3 symbols, 2 folds (2 blocks)');
    for (const scope of ['ensemble', ...MEMBERS, '(class prior)', '(last-return sign)']) expect(run.stdout).toMatch(new RegExp(`^  ${scope.replace(/[()]/g, '\\$&')}\\s+[\\d,]+ `, 'm'));
    expect(run.stdout).toContain(`report        ${out}`);
    expect(run.stdout).toMatch(/journal\s+\d+ rows in qt\.eval_metrics/);
  });

  it('journals rows for the ensemble and each member, every symbol, month and fold', () => {
    expect(new Set(rows.map((r) => r.scope))).toEqual(new Set(['ensemble', ...MEMBERS]));
    for (const scope of ['ensemble', ...MEMBERS]) {
      const mine = rows.filter((r) => r.scope === scope);
      // (* + 3 symbols) x (all, the month 2025-01, fold 1, fold 2)
      expect(mine).toHaveLength(4 * 4);
      expect(new Set(mine.map((r) => r.symbol))).toEqual(new Set(['*', ...SYMBOLS]));
      expect(new Set(mine.map((r) => `${r.month}|${r.fold}`))).toEqual(new Set(['*|-1', '2025-01|-1', '*|1', '*|2']));
    }
    expect(rows.find((r) => r.scope === 'ensemble')!.model_version).toBe('lgbm@v1+nhits@v1+patchtst@v1+xgb@v1');
    expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
  });

  it('makes every * row the sum of its symbols\' rows', () => {
    for (const total of rows.filter((r) => r.symbol === '*')) {
      const parts = rows.filter((r) => r.scope === total.scope && r.symbol !== '*' && r.month === total.month && r.fold === total.fold);
      expect(parts).toHaveLength(3);
      expect(parts.reduce((s, r) => s + r.rows, 0)).toBe(total.rows);
      expect(parts.reduce((s, r) => s + r.trades, 0)).toBe(total.trades);
      expect(parts.reduce((s, r) => s + r.pnl, 0)).toBeCloseTo(total.pnl, 9);
    }
    const all = rows.find((r) => r.scope === 'xgb' && r.symbol === '*' && r.month === '*' && r.fold === -1)!;
    const folds = rows.filter((r) => r.scope === 'xgb' && r.symbol === '*' && r.fold > 0);
    expect(folds.reduce((s, r) => s + r.rows, 0)).toBe(all.rows);
  });

  it('scores what an independent replay and prediction give', async () => {
    // The same market through ingest and features, labels from the closes H bars later, each model over every row.
    const config = loadConfig({ env: {}, flags: { run: { symbols: SYMBOLS, syntheticDays: '2', seed: '11' } } });
    const market = await openMarket(config);
    const scheduler = new ReplayScheduler(market.fromMs);
    const trades = new Subject<SourceRecord<Trade>>();
    const bars = ingestEpic({ trades }, { scheduler, allowedLatenessMs: config.market.allowedLatenessMs, maxJump: config.market.maxJump, symbols: market.instruments }).pipe(
      filter((o) => o.topic === 'md.bars.1m.v1'),
      map((o) => o.value as Bar),
    );
    const vectorsP = lastValueFrom(featuresEpic({ bars }, { scheduler }).pipe(map((o) => o.value as FeatureVector), toArray()));
    for await (const chunk of market.chunks()) {
      for (const item of chunk) {
        scheduler.setTime(item.tsEvent);
        if (item.kind === 'trade') trades.next(item.record);
      }
    }
    trades.complete();
    const vectors = await vectorsP;
    const models: ClassifierModel[] = [];
    for (const m of MEMBERS) models.push(await loadModel(join(ROOT, 'models', 'store', m, 'v1'), { expectedFeatures: FEATURE_NAMES }));
    try {
      const { horizonBars: H, k } = models[0]!.card.label;
      const byKey = new Map(vectors.map((v) => [`${v.symbol}@${v.openTime}`, v]));
      const labelled = vectors.flatMap((v) => {
        const ahead = byKey.get(`${v.symbol}@${v.openTime + H * 60_000}`);
        return ahead ? [{ v, y: labelOf(Math.log(ahead.close / v.close), v.values[featureIndex('rvol_30')]!, { horizonBars: H, k: k! }) }] : [];
      });
      const n = labelled.length;
      const probs: Float32Array[] = [];
      for (const m of models) {
        const window = m.card.input.kind === 'window';
        const width = window ? m.card.input.windowLength * m.card.input.windowChannels : FEATURE_NAMES.length;
        const x = new Float32Array(n * width);
        labelled.forEach(({ v }, i) => x.set(window ? v.window : v.values, i * width));
        probs.push(await m.predict(x, n));
      }
      const meanLoss = (p: (i: number, c: number) => number): number =>
        labelled.reduce((s, { y }, i) => s + logLoss(p(i, 0), p(i, 1), p(i, 2), y as ClassIndex), 0) / n;
      const at = (scope: string): Row => rows.find((r) => r.scope === scope && r.symbol === '*' && r.month === '*' && r.fold === -1)!;
      expect(at('xgb').rows).toBe(n);
      const xgb = probs[MEMBERS.indexOf('xgb')]!;
      expect(at('xgb').log_loss).toBeCloseTo(meanLoss((i, c) => xgb[i * 3 + c]!), 9);
      // The ensemble: the plain mean of the four members (equal weights).
      expect(at('ensemble').log_loss).toBeCloseTo(meanLoss((i, c) => probs.reduce((s, p) => s + p[i * 3 + c]!, 0) / probs.length), 9);
      // Fold 1's prior is the card's training class shares (Laplace-smoothed).
      const counts = models[0]!.card.data.train.classCounts;
      const total = counts.reduce((s, c) => s + c, 0);
      const fold1 = rows.filter((r) => r.scope === 'xgb' && r.symbol === '*' && r.fold === 1)[0]!;
      const fold1Rows = rows.filter((r) => r.scope === 'xgb' && r.symbol !== '*' && r.fold === 1);
      expect(fold1Rows.reduce((s, r) => s + r.rows, 0)).toBe(fold1.rows);
      const foldStart = Math.min(...labelled.map(({ v }) => v.openTime));
      const inFold1 = labelled
        .map(({ v, y }) => ({ t: v.openTime, y }))
        .sort((a, b) => a.t - b.t)
        .slice(0, fold1.rows);
      expect(inFold1[0]!.t).toBe(foldStart);
      const prior = counts.map((c) => (c + 1) / (total + 3));
      expect(fold1.prior_log_loss).toBeCloseTo(inFold1.reduce((s, { y }) => s + logLoss(prior[0]!, prior[1]!, prior[2]!, y), 0) / fold1.rows, 9);
    } finally {
      for (const m of models) await m.close();
    }
  });

  it('writes one self-contained HTML report with the three plots', () => {
    const html = readFileSync(out, 'utf8');
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('<svg id="calibration"');
    expect(html).toContain('<svg id="equity"');
    expect(html).toContain('<svg id="confusion-0"');
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/https?:\/\//i);
    expect(html).toContain(runId);
    for (const m of MEMBERS) expect(html).toContain(`<td>${m}</td>`);
  });

  it('replaces its rows when run again: the FINAL count is unchanged', async () => {
    const count = async (): Promise<number> => {
      const journal = await openJournal({ path: journalPath, batchRows: 1000 });
      try {
        return Number((await journal.query<{ n: unknown }>('SELECT count() AS n FROM qt.eval_metrics FINAL'))[0]!.n);
      } finally {
        await journal.close();
      }
    };
    const before = await count();
    expect(before).toBe(rows.length);
    const again = await qtEvaluate(ARGS);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(runId);
    expect(await count()).toBe(before);
  });

  it('refuses bad folds with exit 2', async () => {
    const r = await qtEvaluate([...MARKET, '--folds', 'weekly', '--journal', journalPath]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--folds expects month or an integer');
  });
});
