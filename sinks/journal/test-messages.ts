import type { Bar } from '../../schemas/bar.ts';
import type { BrainDecision } from '../../schemas/brain-decision.ts';
import type { DeadLetter } from '../../schemas/dead-letter.ts';
import type { EnsembleSignal, MemberVote } from '../../schemas/ensemble-signal.ts';
import type { Equity } from '../../schemas/equity.ts';
import type { StepMark } from '../../schemas/step-mark.ts';
import type { ExitEvent } from '../../schemas/exit-event.ts';
import type { FeatureVector } from '../../schemas/feature-vector.ts';
import type { Fill } from '../../schemas/fill.ts';
import { deriveId } from '../../schemas/ids.ts';
import type { ModelVote } from '../../schemas/model-vote.ts';
import type { OrderEvent } from '../../schemas/order-event.ts';
import type { Position } from '../../schemas/position.ts';
import type { RiskOrder } from '../../schemas/risk-order.ts';
import type { DataTopics, TopicName, Topics } from '../../schemas/topics.ts';
import type { Trade } from '../../schemas/trade.ts';
import type { EvalMetric } from '../../schemas/eval-metric.ts';
import type { LearningEvent } from '../../schemas/learning-event.ts';
import type { MemberScore } from '../../schemas/member-score.ts';
import type { RegistryEvent } from '../../schemas/registry-event.ts';
import type { SupervisorEvent } from '../../schemas/supervisor-event.ts';

/**
 * Sample messages of every topic for journal tests: deterministic, and covering the awkward values (NaN and infinite
 * doubles, null enums, empty and non-empty arrays, raw bytes that are not UTF-8, quotes and newlines in strings).
 */

const T0 = Date.UTC(2025, 0, 31, 23, 59); // the last minute of January: the second bar falls in February's partition
const MIN = 60_000;
const inst = { exchange: 'binance', symbol: 'BTC/USDT' } as const;

/** The i-th sample message of every data topic (i >= 0; every i gives new ids). */
export function sampleMessages(i: number): { readonly [K in keyof DataTopics]: DataTopics[K] } {
  const ts = T0 + i * MIN;
  const env = (prefix: string) => ({ id: deriveId(prefix, i), tsEvent: ts, tsInit: ts + 5 });
  const members: MemberVote[] = [
    { member: 'xgb', modelVersion: 'xgb-v1', weight: 0.6, pDown: 0.1, pFlat: 0.2, pUp: 0.7 },
    { member: 'nhits', modelVersion: 'nhits-v3', weight: 0.4, pDown: 0.3, pFlat: 0.3, pUp: 0.4 },
  ];
  const trade: Trade = { ...env('trd'), ...inst, tradeId: `t${i}`, price: 100_000.5 + i, size: 0.001, side: i % 2 ? 'SELL' : 'BUY' };
  const bar: Bar = {
    ...env('bar'), ...inst, interval: '1m', openTime: ts - MIN, open: 100, high: 101.25, low: 99.5, close: 100.75,
    volume: 12.5, quoteVolume: 1260.1, buyVolume: 6.25, trades: 42 + i,
  };
  const fv: FeatureVector = {
    ...env('fv'), ...inst, barId: bar.id, openTime: bar.openTime, close: bar.close, featureSet: 'fs1',
    values: [0.001, NaN, Infinity, -Infinity, 1e-300, -2.5], windowLength: 2, windowChannels: 3, window: [1, 2, 3, 4, 5, 6],
  };
  const vote: ModelVote = { ...env('vote'), ...inst, featureId: fv.id, member: 'xgb', modelVersion: 'xgb-v1', role: i % 2 ? 'SHADOW' : 'CHAMPION', pDown: 0.1, pFlat: 0.2, pUp: 0.7 };
  const signal: EnsembleSignal = {
    ...env('sig'), ...inst, featureId: fv.id, pDown: 0.18, pFlat: 0.24, pUp: 0.58, signal: 'LONG', confidence: 0.58,
    members: i % 2 ? [] : members, supervisor: 'OK', supervisorReason: '',
    market: { close: 100.75, atrPct: 0.004, realizedVol: 0.0012, rsi: 61.5, emaRatio: 0.0008, ret: NaN },
    supervisorAction: i % 2 ? 'BLOCK' : 'NONE',
    regime: { volatility: 'HIGH', trend: i % 2 ? 'DOWN' : 'RANGE', marketVolatility: 'NORMAL', marketTrend: 'RANGE' },
  };
  const decision: BrainDecision = {
    ...env('dec'), ...inst, signalId: signal.id, outcome: i % 2 ? 'REFUSAL' : 'INTENT', refusal: i % 2 ? 'SIGNAL_FLAT' : 'NONE',
    refusalDetail: i % 2 ? "flat: p_up < gate\nsee 'doc'" : '', side: i % 2 ? null : 'LONG', mode: 'NORMAL', modeReason: 'healthy',
    strategy: 'trend', riskScale: 1, confidence: 0.58, signal: 'LONG', members, close: 100.75, atrPct: 0.004,
  };
  const risk: RiskOrder = {
    ...env('risk'), ...inst, decisionId: decision.id, clientOrderId: deriveId('coid', decision.id), verdict: i % 2 ? 'DENIED' : 'APPROVED',
    denyReason: i % 2 ? 'EXPOSURE_CAP' : 'NONE', denyDetail: '', side: i % 2 ? null : 'BUY', qty: i % 2 ? 0 : 0.05, leverage: 3,
    refPrice: 100.75, stopPrice: 99, takeProfits: i % 2 ? [] : [102, 103.5, 105], riskFraction: 0.01, equity: 10_000, mode: 'NORMAL', confidence: 0.58,
  };
  const order: OrderEvent = {
    ...env('ord'), ...inst, clientOrderId: risk.clientOrderId, venue: 'paper', status: 'FILLED', purpose: 'ENTRY', side: 'BUY',
    type: 'MARKET', qty: 0.05, filledQty: 0.05, avgPrice: 100.8, reason: '',
  };
  const fill: Fill = { ...env('fill'), ...inst, clientOrderId: risk.clientOrderId, venue: 'paper', purpose: 'ENTRY', side: 'BUY', qty: 0.05, price: 100.8, fee: 0.002, liquidity: 'TAKER' };
  const position: Position = {
    ...env('pos'), ...inst, positionId: risk.clientOrderId, side: i % 2 ? 'FLAT' : 'LONG', qty: 0.05, avgEntry: 100.8, leverage: 3,
    markPrice: 100.75, realizedPnl: -0.002, unrealizedPnl: -0.0025, stopPrice: 99,
  };
  const equity: Equity = {
    ...env('eq'), account: 'paper', equity: 9_999.99, cash: 9_000, realizedPnl: -0.002, unrealizedPnl: -0.0025, fees: 0.002,
    exposure: 5.04, openPositions: 1, drawdownDay: 0.0001, drawdownWeek: 0.0001, drawdownMax: 0.0002,
  };
  const exit: ExitEvent = {
    ...env('exit'), ...inst, positionId: risk.clientOrderId, kind: 'TAKE_PROFIT', level: 1, triggerPrice: 102, qty: 0.02, stopPrice: 100.8,
    clientOrderId: deriveId('coid-exit', risk.clientOrderId, 1),
  };
  const score: MemberScore = {
    ...env('score'), ...inst, featureId: fv.id, tsVote: ts - 15 * MIN, member: i % 3 ? 'xgb' : 'ensemble', modelVersion: 'xgb-v1',
    role: i % 2 ? 'SHADOW' : 'CHAMPION', label: i % 2 ? 'DOWN' : 'FLAT', fwdRet: -0.0012, pDown: 0.1, pFlat: 0.2, pUp: 0.7,
    logLoss: -Math.log(0.1), brier: 1.34, hit: false, ewLogLoss: 1.09, weight: i % 2 ? 0 : 0.4, volRegime: 'LOW',
  };
  const supervision: SupervisorEvent = {
    ...env('sup'), scope: i % 2 ? 'xgb' : 'ensemble', modelVersion: i % 2 ? 'xgb-v1' : '', check: i % 2 ? 'FEATURE_DRIFT' : 'BIAS',
    status: 'RAISED', verdict: i % 2 ? 'DRIFT' : 'BIAS', action: i % 2 ? 'OBSERVE' : 'BLOCK', side: i % 2 ? null : 'SHORT',
    value: 0.31, threshold: 0.25, detail: 'PSI of "rsi_14" 0.31\n> 0.25',
  };
  const registry: RegistryEvent = {
    ...env('reg'), seq: i + 1, member: 'xgb', action: i % 2 ? 'ROLLED_BACK' : 'PROMOTED', version: `v${i + 2}`, champion: `v${i + 2}`,
    previousChampion: `v${i + 1}`, shadows: i % 2 ? [] : [`v${i + 1}`, 'v0'], dir: "models/store/xgb/v2 'quoted'", actor: 'cli', reason: '',
  };
  const learning: LearningEvent = {
    ...env('learn'), member: 'lgbm', step: i % 2 ? 'TRAINER_UNAVAILABLE' : 'TEST', candidateVersion: i % 2 ? '' : 'v9', championVersion: 'v8',
    outcomes: i % 2 ? 0 : 1500, meanDiff: i % 2 ? NaN : 0.002, statistic: i % 2 ? NaN : 2.1, pValue: i % 2 ? NaN : 0.018,
    dataFromMs: ts - 86_400_000, dataToMs: ts, detail: '/usr/bin/python3: No module named qt_training',
  };
  const evalRow: EvalMetric = {
    ...env('eval'), runId: `run-${i % 2}`, scope: i % 2 ? 'nhits' : 'ensemble', modelVersion: 'v1', exchange: '*', symbol: i % 2 ? 'BTC/USDT' : '*',
    month: i % 2 ? '2025-01' : '*', fold: i % 2 ? 2 : -1, rows: 1000 + i, logLoss: 1.08, brier: 0.65, accuracy: 0.41, ece: 0.02,
    priorLogLoss: 1.09, lastSignLogLoss: 1.0901, trades: 12, pnl: -0.004, hitRate: 0.5,
  };
  const steps: StepMark = {
    ...env('step'), stage: i % 2 ? 'features' : 'ingest', step: ts - 60_000, prevStep: i % 3 ? ts - 120_000 : -1, clock: ts, last: i % 5 === 4,
    counts: i % 2 ? [{ topic: 'feat.vectors.v1', partition: i % 12, records: i + 1, part: i % 12 }] : [],
    parts: i % 2 ? [i % 12] : [0],
    partsOf: i % 2 ? 12 : 1,
  };
  return {
    'md.trades.v1': trade,
    'md.bars.1m.v1': bar,
    'feat.vectors.v1': fv,
    'model.votes.v1': vote,
    'ens.signals.v1': signal,
    'brain.decisions.v1': decision,
    'risk.orders.v1': risk,
    'exec.orders.v1': order,
    'exec.fills.v1': fill,
    'pos.positions.v1': position,
    'pos.equity.v1': equity,
    'exit.events.v1': exit,
    'model.scores.v1': score,
    'ens.supervisor.v1': supervision,
    'model.registry.v1': registry,
    'model.learning.v1': learning,
    'eval.metrics.v1': evalRow,
    'pipe.steps.v1': steps,
  };
}

/** The i-th sample dead letter: raw bytes that are not valid UTF-8, a null key every other time. */
export function sampleDeadLetter(i: number): DeadLetter {
  return {
    id: `md.trades.v1:0:${i}`,
    tsEvent: T0 + i * MIN,
    tsInit: T0 + i * MIN + 1,
    sourceTopic: i % 2 ? 'csv:data/BTCUSDT-trades.csv' : 'md.trades.v1',
    partition: i % 2 ? -1 : 0,
    offset: 2 ** 40 + i,
    key: i % 2 ? null : 'binance:BTC/USDT',
    payload: Buffer.from([0x00, 0xff, 0xfe, 0x0a, 0x41, i & 0xff]),
    stage: 'ingest',
    errorClass: 'ValidationError',
    reason: 'NON_POSITIVE_PRICE',
    message: 'price must be > 0, got -1',
  };
}

/** Writes `n` samples of every topic (and dead letters on md.trades.v1.dlq) through `write`. */
export async function writeSamples(
  write: <T extends TopicName>(topic: T, messages: readonly Topics[T][]) => Promise<void>,
  n: number,
  from = 0,
): Promise<void> {
  const batches = Array.from({ length: n }, (_, k) => sampleMessages(from + k));
  for (const topic of Object.keys(batches[0] ?? {}) as (keyof DataTopics)[]) {
    await write(topic, batches.map((b) => b[topic]) as Topics[typeof topic][]);
  }
  await write('md.trades.v1.dlq', Array.from({ length: n }, (_, k) => sampleDeadLetter(from + k)));
}
