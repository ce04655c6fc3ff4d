import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { from, lastValueFrom, Subject, VirtualTimeScheduler, type Observable } from 'rxjs';
import { toArray } from 'rxjs/operators';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDefaultEnsemble } from '../../models/load.ts';
import type { ClassifierModel } from '../../models/model-port.ts';
import { FakeModel } from '../../models/testing/fake-model.ts';
import { FEATURE_NAMES, FEATURE_SET, featureIndex, WINDOW_CHANNELS, WINDOW_LENGTH } from '../../operators/features/feature-set.ts';
import { codecFor } from '../../schemas/codec.ts';
import { DeadLetterSchema, type DeadLetter } from '../../schemas/dead-letter.ts';
import { METRICS, type MetricDef } from '../../schemas/metrics.ts';
import type { EnsembleSignal } from '../../schemas/ensemble-signal.ts';
import type { FeatureVector } from '../../schemas/feature-vector.ts';
import type { ModelVote } from '../../schemas/model-vote.ts';
import type { Meter, Outgoing } from '../../schemas/ports.ts';
import { DATA_TOPIC_SCHEMAS } from '../../schemas/topics.ts';
import { ensembleEpic, EnsembleConfigError, type EnsembleDeps } from './epic.ts';

const M = 60_000;
const NOW = 1_746_316_800_000;

function vector(symbol: string, minute: number, values: readonly number[], featureSet = FEATURE_SET, window: readonly number[] = []): FeatureVector {
  return {
    id: `feat-${symbol}-${minute}`,
    tsEvent: (minute + 1) * M,
    tsInit: 0,
    exchange: 'binance',
    symbol,
    barId: `bar-${symbol}-${minute}`,
    openTime: minute * M,
    close: 100 + minute,
    featureSet,
    values: [...values],
    windowLength: window.length > 0 ? WINDOW_LENGTH : 0,
    windowChannels: window.length > 0 ? WINDOW_CHANNELS.length : 0,
    window: [...window],
  };
}
const W = WINDOW_LENGTH * WINDOW_CHANNELS.length;
/** A window whose values are seed, seed + 0.001, ...: row-major L x C. */
const win = (seed: number): number[] => Array.from({ length: W }, (_, i) => seed + i / 1000);
/** A vector with values and a window. */
const full = (symbol: string, minute: number, seed: number): FeatureVector => vector(symbol, minute, vals(seed), FEATURE_SET, win(seed));
const vals = (seed: number): number[] => FEATURE_NAMES.map((_, i) => seed + i / 10);

/** A scheduler whose clock reads NOW (tsInit) without running anything. */
function clock(): VirtualTimeScheduler {
  const s = new VirtualTimeScheduler();
  s.frame = NOW;
  return s;
}

function recordingMeter(): { meter: Meter; observed: [string, Record<string, string>, number][] } {
  const observed: [string, Record<string, string>, number][] = [];
  const meter: Meter = {
    counter: (name) => ({ inc: (labels = {}, v = 1) => void observed.push([name, { ...labels }, v]) }),
    gauge: (name) => ({ set: (labels, v) => void observed.push([name, { ...labels }, v]) }),
    histogram: (name) => ({ observe: (labels, v) => void observed.push([name, { ...labels }, v]) }),
  };
  return { meter, observed };
}

const run = (vectors: Observable<FeatureVector>, deps: EnsembleDeps): Promise<Outgoing[]> =>
  lastValueFrom(ensembleEpic({ vectors }, deps).pipe(toArray()));

/** The votes, signals and dead letters of a run (without the scores and supervisor events, which have their own specs). */
const CORE = new Set(['model.votes.v1', 'ens.signals.v1', 'feat.vectors.v1.dlq']);
const core = (outs: readonly Outgoing[]): Outgoing[] => outs.filter((o) => CORE.has(o.topic));

/** P(UP) grows with the first feature; a simple, known function of the input. */
const upWithFirst = (row: Float32Array): [number, number, number] => {
  const up = Math.min(0.9, Math.max(0.1, row[0]! / 10));
  return [(1 - up) / 2, (1 - up) / 2, up];
};

describe('ensembleEpic with FakeModel test doubles', () => {
  const champA = () => new FakeModel({ member: 'a', probabilities: () => [0.2, 0.3, 0.5] });
  const champB = () => new FakeModel({ member: 'b', version: 'v7', probabilities: () => [0.6, 0.2, 0.2] });
  const shadow = () => new FakeModel({ member: 's', role: 'SHADOW', probabilities: () => [0.0, 0.0, 1.0] });

  it('runs each model once per micro-batch and emits votes of every member, then the champions\' signal', async () => {
    const [a, b, s] = [champA(), champB(), shadow()];
    const { meter, observed } = recordingMeter();
    let t = 0;
    const stopwatch = (): number => (t += 2); // every predict() "takes" 2 ms
    const vs = [vector('BTC/USDT', 0, vals(1)), vector('ETH/USDT', 0, vals(2)), vector('BTC/USDT', 1, vals(3))];
    const outs = core(await run(from(vs), { models: [a, b, s], scheduler: clock(), meter, weights: { a: 1, b: 3, s: 100 }, stopwatch }));

    // two batches: the two vectors of minute 0, then the one of minute 1
    for (const m of [a, b, s]) expect(m.calls.map((c) => c.rows)).toEqual([2, 1]);
    expect(Array.from(a.calls[0]!.batch)).toEqual([...vals(1), ...vals(2)].map(Math.fround));

    expect(outs.map((o) => `${o.topic}/${o.key}`)).toEqual([
      ...['model.votes.v1', 'model.votes.v1', 'model.votes.v1', 'ens.signals.v1'].map((t) => `${t}/binance:BTC/USDT`),
      ...['model.votes.v1', 'model.votes.v1', 'model.votes.v1', 'ens.signals.v1'].map((t) => `${t}/binance:ETH/USDT`),
      ...['model.votes.v1', 'model.votes.v1', 'model.votes.v1', 'ens.signals.v1'].map((t) => `${t}/binance:BTC/USDT`),
    ]);
    const votes = outs.filter((o) => o.topic === 'model.votes.v1').map((o) => o.value as ModelVote);
    expect(votes.slice(0, 3).map((v) => [v.member, v.modelVersion, v.role])).toEqual([
      ['a', 'v1', 'CHAMPION'],
      ['b', 'v7', 'CHAMPION'],
      ['s', 'v1', 'SHADOW'],
    ]);
    expect(votes[0]).toMatchObject({ featureId: 'feat-BTC/USDT-0', tsEvent: M, tsInit: NOW, exchange: 'binance', symbol: 'BTC/USDT' });
    expect(votes[1]!.pDown).toBeCloseTo(0.6, 6);

    // the shadow (P(UP) = 1, weight 100) does not act: weights 1 and 3 -> 0.25, 0.75
    // pDown = 0.25*0.2 + 0.75*0.6 = 0.5, pFlat = 0.225, pUp = 0.275 -> SHORT with confidence 0.5 / (0.5 + 0.275)
    const sig = outs.find((o) => o.topic === 'ens.signals.v1')!.value as EnsembleSignal;
    expect(sig.pDown).toBeCloseTo(0.5, 6);
    expect(sig.pFlat).toBeCloseTo(0.225, 6);
    expect(sig.pUp).toBeCloseTo(0.275, 6);
    expect(sig).toMatchObject({ signal: 'SHORT', supervisor: 'OK', supervisorReason: '', featureId: 'feat-BTC/USDT-0', tsInit: NOW });
    expect(sig.confidence).toBeCloseTo(0.5 / 0.775, 6);
    expect(sig.members.map((m) => [m.member, m.modelVersion, m.weight])).toEqual([
      ['a', 'v1', 0.25],
      ['b', 'v7', 0.75],
    ]);
    // market context read from the vector's values by name
    const v0 = vals(1);
    expect(sig.market).toEqual({
      close: 100,
      atrPct: v0[featureIndex('atr_pct_14')],
      realizedVol: v0[featureIndex('rvol_30')],
      rsi: v0[featureIndex('rsi_14')],
      emaRatio: v0[featureIndex('ema_ratio_12_26')],
      ret: v0[featureIndex('ret_15')],
    });

    // ids: deterministic and distinct
    const ids = outs.map((o) => (o.value as { id: string }).id);
    expect(new Set(ids).size).toBe(ids.length);

    // latency per member and batch, in seconds
    const lat = observed.filter(([n]) => n === 'qt_inference_duration_seconds');
    expect(lat).toEqual([
      ['qt_inference_duration_seconds', { member: 'a' }, 0.002],
      ['qt_inference_duration_seconds', { member: 'b' }, 0.002],
      ['qt_inference_duration_seconds', { member: 's' }, 0.002],
      ['qt_inference_duration_seconds', { member: 'a' }, 0.002],
      ['qt_inference_duration_seconds', { member: 'b' }, 0.002],
      ['qt_inference_duration_seconds', { member: 's' }, 0.002],
    ]);
    expect(observed.filter(([n]) => n === 'qt_inference_rows_total').map(([, , v]) => v)).toEqual([2, 2, 2, 1, 1, 1]);
  });

  it('registers its metrics from the standard definitions (METRICS), names, help, labels and buckets alike', () => {
    const registered: MetricDef[] = [];
    const meter: Meter = {
      counter: (name, help, labelNames = []) => (registered.push({ type: 'counter', name, help, labelNames: [...labelNames] }), { inc: () => undefined }),
      gauge: (name, help, labelNames = []) => (registered.push({ type: 'gauge', name, help, labelNames: [...labelNames] }), { set: () => undefined }),
      histogram: (name, help, buckets, labelNames = []) => (
        registered.push({ type: 'histogram', name, help, labelNames: [...labelNames], buckets: [...buckets] }), { observe: () => undefined }
      ),
    };
    ensembleEpic({ vectors: from([]) }, { models: [champA()], scheduler: clock(), meter });
    const byName = new Map(Object.values(METRICS).map((d): [string, MetricDef] => [d.name, d]));
    expect(registered.map((r) => r.name).sort()).toEqual([
      'qt_ensemble_member_weight_ratio',
      'qt_ensemble_signals_total',
      'qt_inference_duration_seconds',
      'qt_inference_errors_total',
      'qt_inference_rows_total',
      'qt_market_regime',
      'qt_model_ew_log_loss',
      'qt_model_outcomes_total',
      'qt_model_serving',
      'qt_registry_changes_total',
      'qt_supervisor_check_raised',
      'qt_supervisor_events_total',
    ]);
    for (const r of registered) expect(r).toEqual(byName.get(r.name));
  });

  it('follows the model: LONG when the champion puts most mass on UP', async () => {
    const m = new FakeModel({ member: 'x', probabilities: upWithFirst });
    const outs = await run(from([vector('A/USDT', 0, vals(8)), vector('A/USDT', 1, vals(2))]), { models: [m], scheduler: clock(), meter: recordingMeter().meter });
    const sigs = outs.filter((o) => o.topic === 'ens.signals.v1').map((o) => o.value as EnsembleSignal);
    // row 1: P(UP) = 0.8, P(DOWN) = 0.1 -> LONG 0.8 / 0.9; row 2: P(UP) = 0.2, P(DOWN) = P(FLAT) = 0.4: a tie at the top -> FLAT 0.4
    expect(sigs.map((s) => s.signal)).toEqual(['LONG', 'FLAT']);
    expect(sigs[0]!.confidence).toBeCloseTo(0.8 / 0.9, 6);
    expect(sigs[1]!.confidence).toBeCloseTo(0.4, 6);
  });

  it('is deterministic: the same input gives byte-identical messages', async () => {
    const input = (): FeatureVector[] => [vector('BTC/USDT', 0, vals(1)), vector('ETH/USDT', 0, vals(2)), vector('BTC/USDT', 1, vals(3))];
    const once = async (): Promise<Buffer[]> =>
      (await run(from(input()), { models: [champA(), champB(), shadow()], scheduler: clock(), meter: recordingMeter().meter })).map((o) =>
        codecFor(DATA_TOPIC_SCHEMAS[o.topic as 'model.votes.v1'] as never).encode(o.value as never),
      );
    const [x, y] = [await once(), await once()];
    expect(x.length).toBeGreaterThan(12); // 9 votes, 3 signals, and the scores and supervisor events
    expect(x).toEqual(y);
    expect(x).toEqual(y);
  });

  it('dead-letters vectors the models cannot read, and votes on the rest of the batch', async () => {
    const m = champA();
    const bad = [
      vector('A/USDT', 0, vals(1), 'fs0'),
      vector('B/USDT', 0, vals(1).slice(1)),
      vector('C/USDT', 0, vals(1).map((v, i) => (i === 3 ? Number.NaN : v))),
    ];
    const outs = core(await run(from([...bad, vector('D/USDT', 0, vals(1))]), { models: [m], scheduler: clock(), meter: recordingMeter().meter }));
    expect(outs.map((o) => o.topic)).toEqual(['feat.vectors.v1.dlq', 'feat.vectors.v1.dlq', 'feat.vectors.v1.dlq', 'model.votes.v1', 'ens.signals.v1']);
    expect(outs.slice(0, 3).map((o) => (o.value as { reason: string }).reason)).toEqual([
      'FEATURE_SET_MISMATCH',
      'FEATURE_COUNT_MISMATCH',
      'NON_FINITE_FEATURE',
    ]);
    const dl = outs[0]!.value as { payload: Buffer; stage: string; key: string | null };
    expect(dl.stage).toBe('ensemble');
    expect(dl.key).toBe('binance:A/USDT');
    expect(codecFor(DATA_TOPIC_SCHEMAS['feat.vectors.v1']).decode(dl.payload).id).toBe('feat-A/USDT-0');
    for (const o of outs.slice(0, 3)) expect(() => codecFor(DeadLetterSchema).encode(o.value as DeadLetter)).not.toThrow();
    expect(m.calls.map((c) => c.rows)).toEqual([1]);
  });

  it('flushes a batch after maxWaitMs on the scheduler when no later vector comes', async () => {
    const sched = new VirtualTimeScheduler();
    const m = champA();
    const vectors = new Subject<FeatureVector>();
    const outs: Outgoing[] = [];
    ensembleEpic({ vectors }, { models: [m], scheduler: sched, meter: recordingMeter().meter, maxWaitMs: 250 }).subscribe((o) => outs.push(o));
    vectors.next(vector('A/USDT', 0, vals(1)));
    await Promise.resolve();
    expect(m.calls).toHaveLength(0);
    sched.maxFrames = 250;
    sched.flush();
    await new Promise((r) => setImmediate(r));
    expect(m.calls.map((c) => c.rows)).toEqual([1]);
    expect(core(outs).map((o) => o.topic)).toEqual(['model.votes.v1', 'ens.signals.v1']);
    expect(outs[0]!.value.tsInit).toBe(250);
  });

  it('leaves a failing model out of the vote, signals FLAT and UNHEALTHY when no champion answers, and refuses an ensemble without a champion', async () => {
    const failing = new FakeModel({ member: 'f', probabilities: () => [1, 0, 0], failWith: new Error('boom') });
    const { meter, observed } = recordingMeter();
    const withOther = core(await run(from([vector('A/USDT', 0, vals(1))]), { models: [failing, champA()], scheduler: clock(), meter }));
    expect(withOther.map((o) => o.topic)).toEqual(['model.votes.v1', 'ens.signals.v1']);
    const sig = withOther[1]!.value as EnsembleSignal;
    expect(sig.members.map((m) => m.member)).toEqual(['a']);
    expect(sig.signal).toBe('LONG');
    expect(observed.filter(([n]) => n === 'qt_inference_errors_total')).toEqual([['qt_inference_errors_total', { member: 'f' }, 1]]);
    const alone = core(await run(from([vector('A/USDT', 0, vals(1))]), { models: [failing], scheduler: clock(), meter: recordingMeter().meter }));
    expect(alone.map((o) => o.topic)).toEqual(['ens.signals.v1']);
    expect(alone[0]!.value).toMatchObject({ signal: 'FLAT', confidence: 0, members: [], supervisor: 'UNHEALTHY' });
    expect((alone[0]!.value as EnsembleSignal).supervisorReason).toContain('boom');
    expect(() => ensembleEpic({ vectors: from([]) }, { models: [shadow()], scheduler: clock(), meter: recordingMeter().meter })).toThrow(EnsembleConfigError);
    const other = new FakeModel({ member: 'o', features: ['x'], probabilities: () => [1, 0, 0] });
    expect(() => ensembleEpic({ vectors: from([]) }, { models: [champA(), other], scheduler: clock(), meter: recordingMeter().meter })).toThrow(/INPUTS_DIFFER/);
  });
});

describe('ensembleEpic with window models (FakeModel test doubles)', () => {
  const feat = () => new FakeModel({ member: 'f', probabilities: () => [0.2, 0.3, 0.5] });
  /** P(UP) from the window's last value (the newest bar's last channel): shows which input the model got. */
  const lastOfWindow = (row: Float32Array): [number, number, number] => {
    const up = Math.min(0.9, Math.max(0.1, row[W - 1]! / 10));
    return [(1 - up) / 2, (1 - up) / 2, up];
  };
  const wm = (member = 'w') => new FakeModel({ member, input: 'window', probabilities: lastOfWindow });

  it('feeds each model its input kind, one predict() per model per micro-batch', async () => {
    const [f, w] = [feat(), wm()];
    const vs = [full('BTC/USDT', 0, 1), full('ETH/USDT', 0, 2), full('BTC/USDT', 1, 3)];
    const outs = await run(from(vs), { models: [f, w], scheduler: clock(), meter: recordingMeter().meter });
    expect(f.calls.map((c) => c.rows)).toEqual([2, 1]);
    expect(w.calls.map((c) => c.rows)).toEqual([2, 1]);
    expect(Array.from(f.calls[0]!.batch)).toEqual([...vals(1), ...vals(2)].map(Math.fround));
    expect(Array.from(w.calls[0]!.batch)).toEqual([...win(1), ...win(2)].map(Math.fround));
    expect(Array.from(w.calls[1]!.batch)).toEqual(win(3).map(Math.fround));
    const votes = outs.filter((o) => o.topic === 'model.votes.v1').map((o) => o.value as ModelVote);
    expect(votes.map((v) => v.member)).toEqual(['f', 'w', 'f', 'w', 'f', 'w']);
    // the window model saw its own rows: P(UP) = last window value / 10
    expect(votes.filter((v) => v.member === 'w').map((v) => v.pUp)).toEqual(
      [1, 2, 3].map((seed) => Math.fround(Math.min(0.9, Math.max(0.1, Math.fround(seed + (W - 1) / 1000) / 10)))),
    );
    expect(outs.filter((o) => o.topic === 'ens.signals.v1')).toHaveLength(3);
  });

  it('dead-letters vectors without a usable window when a model reads it, and votes on the rest', async () => {
    const w = wm();
    const short = vector('A/USDT', 0, vals(1), FEATURE_SET, win(1).slice(3)); // 31 bars
    const none = vector('B/USDT', 0, vals(1)); // no window at all
    const nan = vector('C/USDT', 0, vals(1), FEATURE_SET, win(1).map((x, i) => (i === 40 ? Number.NaN : x)));
    const outs = core(await run(from([short, none, nan, full('D/USDT', 0, 1)]), { models: [feat(), w], scheduler: clock(), meter: recordingMeter().meter }));
    expect(outs.map((o) => o.topic)).toEqual(['feat.vectors.v1.dlq', 'feat.vectors.v1.dlq', 'feat.vectors.v1.dlq', 'model.votes.v1', 'model.votes.v1', 'ens.signals.v1']);
    expect(outs.slice(0, 3).map((o) => (o.value as { reason: string }).reason)).toEqual(['WINDOW_SHAPE_MISMATCH', 'WINDOW_SHAPE_MISMATCH', 'NON_FINITE_WINDOW']);
    expect((outs[2]!.value as { message: string }).message).toBe('window value 40 (bar 13, channel 1) is NaN');
    expect(w.calls.map((c) => c.rows)).toEqual([1]);
    // without a window model, a vector without a window is fine
    const f = feat();
    const only = core(await run(from([none]), { models: [f], scheduler: clock(), meter: recordingMeter().meter }));
    expect(only.map((o) => o.topic)).toEqual(['model.votes.v1', 'ens.signals.v1']);
  });

  it('refuses window models that read different windows', () => {
    const other = new FakeModel({ member: 'o', input: 'window', features: ['ret_1', 'range_hl'], probabilities: () => [1, 0, 0] });
    expect(() => ensembleEpic({ vectors: from([]) }, { models: [feat(), wm(), other], scheduler: clock(), meter: recordingMeter().meter })).toThrow(/INPUTS_DIFFER/);
    // window models next to feature models of another feature list are refused as before
    const fx = new FakeModel({ member: 'x', features: ['x'], probabilities: () => [1, 0, 0] });
    expect(() => ensembleEpic({ vectors: from([]) }, { models: [feat(), wm(), fx], scheduler: clock(), meter: recordingMeter().meter })).toThrow(/INPUTS_DIFFER/);
    // an ensemble of window models only still reads FEATURE_NAMES values for the market context
    const outs = ensembleEpic({ vectors: from([vector('A/USDT', 0, vals(1).slice(1), FEATURE_SET, win(1))]) }, { models: [wm()], scheduler: clock(), meter: recordingMeter().meter });
    return lastValueFrom(outs.pipe(toArray())).then((o) => expect((o[0]!.value as { reason: string }).reason).toBe('FEATURE_COUNT_MISMATCH'));
  });
});

const STORE = join(import.meta.dirname, '..', '..', 'models', 'store');

describe('ensembleEpic with the shipped ONNX models', () => {
  let models: ClassifierModel[] = [];
  afterAll(async () => {
    for (const m of models) await m.close();
  });

  interface Parity {
    inputs: number[][];
    probabilities: number[][];
  }
  const parityOf = (m: ClassifierModel): Parity => {
    const file = join(STORE, m.member, m.version, 'parity.json');
    expect(existsSync(file)).toBe(true);
    return JSON.parse(readFileSync(file, 'utf8')) as Parity;
  };

  it('every member votes the probabilities its trainer computed, each from its own input', async () => {
    models = await loadDefaultEnsemble(STORE, { expectedFeatures: FEATURE_NAMES });
    expect(models.map((m) => m.member)).toEqual(['lgbm', 'nhits', 'patchtst', 'xgb']);
    const parity = new Map(models.map((m) => [m.member, parityOf(m)]));
    // The trainers' parity rows are the same validation rows: values from a feature model's file, windows from a
    // window model's file make the same vectors.
    const values = parity.get('xgb')!.inputs;
    const windows = parity.get('nhits')!.inputs;
    expect(parity.get('lgbm')!.inputs).toEqual(values);
    expect(parity.get('patchtst')!.inputs).toEqual(windows);
    const n = 40;
    // 40 parity rows as vectors of 4 symbols over 10 minutes: 10 micro-batches of 4
    const vs = values.slice(0, n).map((row, i) => vector(`S${i % 4}/USDT`, Math.floor(i / 4), row, FEATURE_SET, windows[i]));
    const outs = await run(from(vs), { models, scheduler: clock(), meter: recordingMeter().meter });
    const votes = outs.filter((o) => o.topic === 'model.votes.v1').map((o) => o.value as ModelVote);
    const sigs = outs.filter((o) => o.topic === 'ens.signals.v1').map((o) => o.value as EnsembleSignal);
    expect(votes).toHaveLength(n * models.length);
    expect(sigs).toHaveLength(n);
    votes.forEach((v, k) => {
      const i = Math.floor(k / models.length);
      expect(v.member).toBe(models[k % models.length]!.member);
      const [d, f, u] = parity.get(v.member)!.probabilities[i]!;
      expect(Math.abs(v.pDown - d!)).toBeLessThan(1e-4);
      expect(Math.abs(v.pFlat - f!)).toBeLessThan(1e-4);
      expect(Math.abs(v.pUp - u!)).toBeLessThan(1e-4);
      expect(v.featureId).toBe(vs[i]!.id);
    });
    sigs.forEach((s, i) => {
      // equal weights: the signal is the mean of the four members' probabilities
      const mean = [0, 1, 2].map((j) => models.reduce((acc, m) => acc + parity.get(m.member)!.probabilities[i]![j]!, 0) / models.length);
      expect(Math.abs(s.pDown - mean[0]!)).toBeLessThan(1e-4);
      expect(Math.abs(s.pUp - mean[2]!)).toBeLessThan(1e-4);
      expect(s.members.map((m) => m.weight)).toEqual([0.25, 0.25, 0.25, 0.25]);
      expect(s.pDown + s.pFlat + s.pUp).toBeCloseTo(1, 5);
      expect(s.confidence).toBeCloseTo(s.signal === 'LONG' ? s.pUp / (s.pUp + s.pDown) : s.signal === 'SHORT' ? s.pDown / (s.pUp + s.pDown) : s.pFlat, 12);
    });
  });
});
