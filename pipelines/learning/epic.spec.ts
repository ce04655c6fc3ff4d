import { lastValueFrom, Subject, VirtualTimeScheduler } from 'rxjs';
import { tap, toArray } from 'rxjs/operators';
import { describe, expect, it } from 'vitest';
import type { Bar } from '../../schemas/bar.ts';
import { codecFor } from '../../schemas/codec.ts';
import { LearningEventSchema, type LearningEvent } from '../../schemas/learning-event.ts';
import type { MemberScore } from '../../schemas/member-score.ts';
import type { RegistryEvent } from '../../schemas/registry-event.ts';
import { createRng, type Rng } from '../../sources/rng.ts';
import { learningConfig, LearningConfigError, learningEpic, type LearningConfig } from './epic.ts';
import { FakeRegistry, FakeTrainer } from './fakes.ts';
import type { TrainResult } from './ports.ts';

const M = 60_000;
const T0 = Date.UTC(2025, 0, 6);
const H = 15;
const SYMBOLS = ['BTC/USDT', 'ETH/USDT'];
const codec = codecFor(LearningEventSchema);

/** Small numbers so a whole promote-and-watch cycle takes a few hundred simulated minutes. */
const BASE: Partial<LearningConfig> = {
  members: ['xgb'],
  retrainEveryMs: 60 * M,
  windowBars: 90,
  horizon: H,
  minOutcomes: 200,
  testEveryOutcomes: 100,
  maxOutcomes: 1000,
  watchOutcomes: 600,
};
// Bonferroni level per look: alpha / (floor((1000 - 200) / 100) + 1) = 0.05 / 9
const LEVEL = 0.05 / 9;

function bar(symbol: string, minute: number): Bar {
  const openTime = T0 + minute * M;
  const close = 100 + Math.sin(minute / 10);
  return {
    id: `bar-${symbol}-${minute}`,
    tsEvent: openTime + M,
    tsInit: openTime + M,
    exchange: 'binance',
    symbol,
    interval: '1m',
    openTime,
    open: close,
    high: close + 0.1,
    low: close - 0.1,
    close,
    volume: 1,
    quoteVolume: close,
    buyVolume: 0.5,
    trades: 10,
  };
}

/** A scored vote of `version` on the vector of `symbol` at `voteMinute`, its outcome known at `nowMinute`. */
function score(member: string, version: string, champion: boolean, symbol: string, voteMinute: number, nowMinute: number, logLoss: number): MemberScore {
  return {
    id: `score-${member}-${version}-${symbol}-${voteMinute}`,
    tsEvent: T0 + (nowMinute + 1) * M,
    tsInit: T0 + (nowMinute + 1) * M,
    exchange: 'binance',
    symbol,
    featureId: `feat-${symbol}-${voteMinute}`,
    tsVote: T0 + (voteMinute + 1) * M,
    member,
    modelVersion: version,
    role: champion ? 'CHAMPION' : 'SHADOW',
    label: 'FLAT',
    fwdRet: 0,
    pDown: 0.3,
    pFlat: 0.4,
    pUp: 0.3,
    logLoss,
    brier: 0.5,
    hit: true,
    ewLogLoss: logLoss,
    weight: champion ? 1 : 0,
    volRegime: 'NORMAL',
  };
}

/** Log loss offset of a version at a minute (0: as good as v1); `w` lets it depend on what happened so far. */
type Quality = (version: string, minute: number, w: World) => number;

/**
 * A simulated world around the epic: each minute a bar per symbol, and a score per symbol for every version of every
 * configured member the FakeRegistry serves now (champion and shadows), for the vote of H minutes ago. Losses share a
 * common part per symbol and minute (the market) plus noise per version, plus the version's quality offset.
 */
class World {
  readonly bars = new Subject<Bar>();
  readonly scores = new Subject<MemberScore>();
  readonly registryEvents = new Subject<RegistryEvent>();
  readonly events: LearningEvent[] = [];
  readonly scheduler = new VirtualTimeScheduler();
  readonly done: Promise<void>;
  minute = 0;
  promotedAt = Infinity;
  private readonly rng: Rng;

  constructor(
    readonly registry: FakeRegistry,
    readonly trainer: FakeTrainer,
    readonly config: Partial<LearningConfig>,
    readonly quality: Quality = () => 0,
    opts: { seed?: number; scoreShadows?: boolean } = {},
  ) {
    this.rng = createRng(opts.seed ?? 1);
    this.scoreShadows = opts.scoreShadows ?? true;
    this.scheduler.frame = T0;
    this.done = lastValueFrom(
      learningEpic({ bars: this.bars, scores: this.scores, registry: this.registryEvents }, { scheduler: this.scheduler, trainer, registry, config }).pipe(
        tap((o) => {
          expect(o.topic).toBe('model.learning.v1');
          const e = o.value as LearningEvent;
          expect(o.key).toBe(e.member);
          if (e.step === 'PROMOTED' && this.promotedAt === Infinity) this.promotedAt = this.minute;
          this.events.push(e);
        }),
        toArray(),
      ),
    ).then(() => undefined);
  }

  private readonly scoreShadows: boolean;

  /** One minute: bars, then the scores whose outcome the bar closes; then lets the epic and its fakes settle. */
  async step(): Promise<void> {
    const m = this.minute;
    this.scheduler.frame = T0 + (m + 1) * M;
    for (const s of SYMBOLS) this.bars.next(bar(s, m));
    const vote = m - H;
    if (vote >= 0) {
      for (const member of this.config.members ?? []) {
        const r = this.registry.roster(member);
        const served = [...(r.champion ? [r.champion] : []), ...(this.scoreShadows ? r.shadows : [])];
        for (const s of SYMBOLS) {
          const market = 1 + 0.3 * this.rng.normal();
          for (const v of served) {
            const loss = Math.max(0.01, market + 0.3 * this.rng.normal() + this.quality(v, m, this));
            this.scores.next(score(member, v, v === r.champion, s, vote, m, loss));
          }
        }
      }
    }
    this.minute++;
    await new Promise((r) => setImmediate(r));
  }

  async run(minutes: number): Promise<void> {
    for (let i = 0; i < minutes; i++) await this.step();
  }

  async end(): Promise<LearningEvent[]> {
    this.bars.complete();
    this.scores.complete();
    this.registryEvents.complete();
    await this.done;
    for (const e of this.events) expect(() => codec.encode(e)).not.toThrow();
    expect(new Set(this.events.map((e) => e.id)).size).toBe(this.events.length);
    return this.events;
  }
}

const isSkip = (e: LearningEvent): boolean => e.step === 'SCHEDULED' && e.detail.includes('skipped');
const steps = (events: readonly LearningEvent[]): string[] => events.filter((e) => !isSkip(e)).map((e) => e.step);
const only = (events: readonly LearningEvent[], step: string): LearningEvent[] => events.filter((e) => e.step === step);
const ops = (r: FakeRegistry): string[] => r.calls.map((c) => `${c.op} ${c.member} ${c.version}`);

describe('learningEpic: retrain, shadow, promotion test, rollback', () => {
  it('trains on schedule, registers a shadow, promotes a better candidate, watches it, then drops the predecessor', async () => {
    const registry = new FakeRegistry({ xgb: 'v1' });
    const trainer = new FakeTrainer();
    const w = new World(registry, trainer, BASE, (v) => (v === 'v2' ? -0.1 : 0));
    await w.run(520);
    const events = await w.end();

    const s = steps(events);
    expect(s.slice(0, 4)).toEqual(['SCHEDULED', 'TRAINING_STARTED', 'TRAINED', 'SHADOW_REGISTERED']);
    const iPromoted = s.indexOf('PROMOTED');
    expect(iPromoted).toBeGreaterThan(4);
    expect(s.slice(4, iPromoted).every((x) => x === 'TEST')).toBe(true);
    expect(s.at(-1)).toBe('KEPT');
    expect(s.slice(iPromoted + 1, -1).every((x) => x === 'TEST')).toBe(true);

    // the first tick is one retrain interval after the first bar (which closed at T0 + 1 min)
    const [scheduled, started, trained, registered] = events;
    expect(scheduled!.tsEvent).toBe(T0 + M + 60 * M);
    expect(started).toMatchObject({ member: 'xgb', candidateVersion: 'v2', championVersion: 'v1' });
    expect(trained).toMatchObject({ candidateVersion: 'v2', dataFromMs: T0, dataToMs: T0 + 60 * M });
    expect(registered).toMatchObject({ candidateVersion: 'v2', championVersion: 'v1' });
    // the trainer got each instrument's bars so far, in time order (the tick fired on BTC's bar 60, before ETH's)
    const req = trainer.requests[0]!;
    expect(req).toMatchObject({ member: 'xgb', version: 'v2', horizon: H, outDir: '/fake-registry/models/xgb/v2' });
    const opensOf = (sym: string): number[] => req.bars.filter((b) => b.symbol === sym).map((b) => b.openTime);
    expect(opensOf('BTC/USDT')).toEqual(Array.from({ length: 61 }, (_, i) => T0 + i * M));
    expect(opensOf('ETH/USDT')).toEqual(Array.from({ length: 60 }, (_, i) => T0 + i * M));
    expect(req.bars).toHaveLength(121);

    const promoted = only(events, 'PROMOTED')[0]!;
    expect(promoted).toMatchObject({ candidateVersion: 'v2', championVersion: 'v1' });
    expect(promoted.pValue).toBeLessThan(LEVEL);
    expect(promoted.meanDiff).toBeGreaterThan(0.05);
    expect(promoted.meanDiff).toBeLessThan(0.15);
    const tests = only(events, 'TEST');
    const before = tests.filter((e) => e.tsEvent <= promoted.tsEvent);
    // tests start at minOutcomes and come every testEveryOutcomes paired outcomes; the last one is the promotion's
    expect(before.map((e) => e.outcomes)).toEqual(before.map((_, i) => 200 + 100 * i));
    expect(before.at(-1)).toMatchObject({ outcomes: promoted.outcomes, pValue: promoted.pValue, statistic: promoted.statistic });
    expect(before.slice(0, -1).every((e) => e.pValue >= LEVEL)).toBe(true);
    // the watch compares the predecessor (championVersion) with the promoted model; the new one stays better
    const watch = tests.filter((e) => e.tsEvent > promoted.tsEvent);
    expect(watch.map((e) => e.outcomes)).toEqual([200, 300, 400, 500, 600]);
    for (const e of watch) {
      expect(e).toMatchObject({ candidateVersion: 'v2', championVersion: 'v1' });
      expect(e.meanDiff).toBeGreaterThan(0);
      expect(e.pValue).toBeGreaterThan(0.5);
      expect(e.detail).toContain('rollback check');
    }
    expect(events.at(-1)).toMatchObject({ step: 'KEPT', candidateVersion: 'v2', championVersion: 'v1', outcomes: 600 });

    expect(ops(registry)).toEqual(['addShadow xgb v2', 'promote xgb v2', 'removeShadow xgb v1']);
    expect(registry.roster('xgb')).toEqual({ champion: 'v2', shadows: [], history: ['v1'] });
    // ticks during the test and the watch were skipped and recorded, with the member busy
    const skips = events.filter(isSkip);
    expect(skips.length).toBeGreaterThanOrEqual(5);
    expect(skips[0]!.detail).toMatch(/every member busy \(xgb testing\)/);
    expect(skips.some((e) => /xgb watching/.test(e.detail))).toBe(true);
  });

  it('keeps the champion when the candidate is no better, after maxOutcomes, and removes the shadow', async () => {
    const registry = new FakeRegistry({ xgb: 'v1' });
    const w = new World(registry, new FakeTrainer(), { ...BASE, retrainEveryMs: 10 * 60 * M }, () => 0, { seed: 7 });
    await w.run(1205);
    const events = await w.end();
    const s = steps(events);
    expect(s).not.toContain('PROMOTED');
    const kept = only(events, 'KEPT')[0]!;
    expect(kept).toMatchObject({ candidateVersion: 'v2', championVersion: 'v1', outcomes: 1000 });
    expect(kept.detail).toMatch(/v1 stays champion, candidate v2 not promoted/);
    expect(only(events, 'TEST').filter((e) => e.tsEvent <= kept.tsEvent).map((e) => e.outcomes)).toEqual([200, 300, 400, 500, 600, 700, 800, 900, 1000]);
    expect(ops(registry).slice(0, 2)).toEqual(['addShadow xgb v2', 'removeShadow xgb v2']);
    // once idle again, the next tick trains the member again (v2 was registered, so v3)
    expect(events.filter((e) => e.step === 'TRAINING_STARTED').map((e) => e.candidateVersion)).toEqual(['v2', 'v3']);
  });

  it('rolls back a promoted model that turns out worse than its predecessor', async () => {
    const registry = new FakeRegistry({ xgb: 'v1' });
    // v2 is better until it is promoted, then worse (a regime it does not handle)
    const w = new World(registry, new FakeTrainer(), BASE, (v, m, world) => (v !== 'v2' ? 0 : m < world.promotedAt ? -0.1 : 0.2));
    await w.run(340);
    const events = await w.end();
    const s = steps(events);
    const iPromoted = s.indexOf('PROMOTED');
    const iRolled = s.indexOf('ROLLED_BACK');
    expect(iPromoted).toBeGreaterThan(0);
    expect(iRolled).toBeGreaterThan(iPromoted + 1);
    expect(s[iRolled - 1]).toBe('TEST');
    const rolled = only(events, 'ROLLED_BACK')[0]!;
    expect(rolled).toMatchObject({ candidateVersion: 'v2', championVersion: 'v1' });
    // in the event's frame: champion (the predecessor) minus challenger (v2) < 0, i.e. v2 worse
    expect(rolled.meanDiff).toBeLessThan(-0.1);
    expect(rolled.pValue).toBeLessThan(0.05 / 5); // watch looks: floor((600 - 200) / 100) + 1 = 5
    expect(rolled.detail).toMatch(/v1 restored; shadow v2 removed/);
    expect(ops(registry)).toEqual(['addShadow xgb v2', 'promote xgb v2', 'rollback xgb v1', 'removeShadow xgb v2']);
    expect(registry.roster('xgb')).toMatchObject({ champion: 'v1', shadows: [] });
  });

  it('reports an unavailable trainer once at start and once per tick, and keeps running', async () => {
    const registry = new FakeRegistry({ xgb: 'v1', lgbm: 'v1' });
    const trainer = new FakeTrainer({ available: (m) => ({ ok: false, detail: `python: no module named ${m === 'xgb' ? 'xgboost' : 'sklearn'}` }) });
    const w = new World(registry, trainer, { ...BASE, members: ['xgb', 'lgbm'] });
    await w.run(200);
    const events = await w.end();
    expect(events.map((e) => `${e.step} ${e.member}`)).toEqual([
      'TRAINER_UNAVAILABLE xgb',
      'TRAINER_UNAVAILABLE lgbm',
      'SCHEDULED xgb',
      'TRAINER_UNAVAILABLE xgb',
      'SCHEDULED lgbm',
      'TRAINER_UNAVAILABLE lgbm',
      'SCHEDULED xgb',
      'TRAINER_UNAVAILABLE xgb',
    ]);
    expect(events[0]!.detail).toBe('at start: python: no module named xgboost');
    expect(events[0]!.tsEvent).toBe(T0); // before any bar: the scheduler's time
    expect(events[3]!.tsEvent).toBe(T0 + 61 * M);
    expect(trainer.requests).toEqual([]);
    expect(registry.calls).toEqual([]);
    expect(trainer.availabilityChecks).toBe(2 + 3);
  });

  it('records a failed training and trains again at the next tick', async () => {
    const registry = new FakeRegistry({ xgb: 'v1' });
    const trainer = new FakeTrainer({ outcomes: [new Error('xgboost exploded')] });
    const w = new World(registry, trainer, BASE, () => 0.5);
    await w.run(130);
    const events = await w.end();
    expect(steps(events)).toEqual(['SCHEDULED', 'TRAINING_STARTED', 'TRAINING_FAILED', 'SCHEDULED', 'TRAINING_STARTED', 'TRAINED', 'SHADOW_REGISTERED']);
    const failed = only(events, 'TRAINING_FAILED')[0]!;
    expect(failed).toMatchObject({ candidateVersion: 'v2', detail: 'Error: xgboost exploded' });
    const started = only(events, 'TRAINING_STARTED');
    // nothing was registered, so the retry gets the same version, under a different id (the tick is in it)
    expect(started.map((e) => e.candidateVersion)).toEqual(['v2', 'v2']);
    expect(started[1]!.tsEvent - started[0]!.tsEvent).toBe(60 * M);
    expect(trainer.requests).toHaveLength(2);
    expect(ops(registry)).toEqual(['addShadow xgb v2']);
  });

  it('trains the members round-robin and reports a failing registry as a failed training', async () => {
    const registry = new FakeRegistry({ xgb: 'v1', lgbm: 'v4' });
    registry.fail('addShadow', new Error('registry log not writable'));
    const trainer = new FakeTrainer({ outcomes: [new Error('boom')] });
    const w = new World(registry, trainer, { ...BASE, members: ['xgb', 'lgbm'] });
    await w.run(190);
    const events = await w.end();
    expect(events.filter((e) => !isSkip(e)).map((e) => `${e.step} ${e.member} ${e.candidateVersion}`)).toEqual([
      'SCHEDULED xgb ',
      'TRAINING_STARTED xgb v2',
      'TRAINING_FAILED xgb v2',
      'SCHEDULED lgbm ',
      'TRAINING_STARTED lgbm v5',
      'TRAINED lgbm v5',
      'TRAINING_FAILED lgbm v5',
      'SCHEDULED xgb ',
      'TRAINING_STARTED xgb v2',
      'TRAINED xgb v2',
      'SHADOW_REGISTERED xgb v2',
    ]);
    expect(only(events, 'TRAINING_FAILED')[1]!.detail).toBe('registry.addShadow failed: Error: registry log not writable');
  });

  it('skips and records a tick that comes while a training runs', async () => {
    const registry = new FakeRegistry({ xgb: 'v1', lgbm: 'v1' });
    let finish!: (r: TrainResult) => void;
    const slow = new Promise<TrainResult>((resolve) => (finish = resolve));
    const trainer = new FakeTrainer({ outcomes: [slow] });
    const w = new World(registry, trainer, { ...BASE, members: ['xgb', 'lgbm'] });
    await w.run(125);
    expect(steps(w.events)).toEqual(['SCHEDULED', 'TRAINING_STARTED']);
    const skip = w.events.filter(isSkip);
    expect(skip).toHaveLength(1);
    expect(skip[0]).toMatchObject({ member: 'lgbm', tsEvent: T0 + 121 * M });
    expect(skip[0]!.detail).toMatch(/skipped: training of xgb v2 in progress/);
    finish({ dir: '/fake-registry/models/xgb/v2', fromMs: T0, toMs: T0 + 60 * M });
    await new Promise((r) => setImmediate(r));
    await w.run(60);
    const events = await w.end();
    // the skipped tick did not use up lgbm's turn: the next tick trains it
    expect(events.filter((e) => !isSkip(e)).map((e) => `${e.step} ${e.member}`)).toEqual([
      'SCHEDULED xgb',
      'TRAINING_STARTED xgb',
      'TRAINED xgb',
      'SHADOW_REGISTERED xgb',
      'SCHEDULED lgbm',
      'TRAINING_STARTED lgbm',
      'TRAINED lgbm',
      'SHADOW_REGISTERED lgbm',
    ]);
    // TRAINED carries the time at which the result was seen (event time then), not the tick's
    expect(only(events, 'TRAINED')[0]!.tsEvent).toBe(T0 + 125 * M);
  });

  it('abandons a test when someone else changes the member in the registry', async () => {
    const registry = new FakeRegistry({ xgb: 'v1' });
    const w = new World(registry, new FakeTrainer(), BASE, () => 0);
    await w.run(80);
    expect(steps(w.events).at(-1)).toBe('SHADOW_REGISTERED');
    // an operator promotes another version by hand: events of learning itself are ignored, this one is not
    const change = (actor: string): RegistryEvent => ({
      id: `reg-${actor}`, tsEvent: T0 + 81 * M, tsInit: 0, seq: 9, member: 'xgb', action: 'PROMOTED', version: 'v9',
      champion: 'v9', previousChampion: 'v1', shadows: ['v2', 'v1'], dir: 'models/xgb/v9', actor, reason: 'manual',
    });
    w.registryEvents.next(change('learning'));
    w.registryEvents.next(change('cli'));
    await w.run(1);
    const events = await w.end();
    expect(events.at(-1)).toMatchObject({ step: 'KEPT', candidateVersion: 'v2', championVersion: 'v1', tsEvent: T0 + 81 * M });
    expect(events.at(-1)!.detail).toMatch(/^test abandoned: registry changed by cli \(PROMOTED v9/);
    expect(ops(registry)).toEqual(['addShadow xgb v2', 'removeShadow xgb v2']);
  });

  it('gives a test up after maxTestMs when the candidate is never scored', async () => {
    const registry = new FakeRegistry({ xgb: 'v1' });
    const w = new World(registry, new FakeTrainer(), { ...BASE, maxTestMs: 120 * M, retrainEveryMs: 1000 * M }, () => 0, { scoreShadows: false });
    await w.run(1000 + 125);
    const events = await w.end();
    expect(steps(events)).toEqual(['SCHEDULED', 'TRAINING_STARTED', 'TRAINED', 'SHADOW_REGISTERED', 'KEPT']);
    expect(events.at(-1)!.detail).toMatch(/time limit: 0 paired outcomes in 2 h; shadow v2 removed/);
  });

  it('promotes without a test when the member has no champion, and keeps the candidate when promotion fails', async () => {
    const empty = new FakeRegistry({ xgb: null });
    const w1 = new World(empty, new FakeTrainer(), BASE);
    await w1.run(70);
    const e1 = await w1.end();
    expect(steps(e1)).toEqual(['SCHEDULED', 'TRAINING_STARTED', 'TRAINED', 'SHADOW_REGISTERED', 'PROMOTED']);
    expect(e1.at(-1)).toMatchObject({ candidateVersion: 'v1', championVersion: '', detail: 'xgb had no champion: v1 promoted without a test' });
    expect(empty.roster('xgb').champion).toBe('v1');

    const failing = new FakeRegistry({ xgb: 'v1' });
    failing.fail('promote', new Error('registry log not writable'));
    const w2 = new World(failing, new FakeTrainer(), BASE, (v) => (v === 'v2' ? -0.1 : 0));
    await w2.run(220);
    const e2 = await w2.end();
    expect(steps(e2).slice(-2)).toEqual(['TEST', 'KEPT']);
    expect(e2.at(-1)!.detail).toBe('promotion failed: Error: registry log not writable; shadow v2 removed');
    expect(ops(failing)).toEqual(['addShadow xgb v2', 'removeShadow xgb v2']);
    expect(failing.roster('xgb')).toMatchObject({ champion: 'v1', shadows: [] });
  });

  it('emits the same events, ids included, for the same inputs', async () => {
    const once = async (): Promise<LearningEvent[]> => {
      const w = new World(new FakeRegistry({ xgb: 'v1' }), new FakeTrainer(), BASE, (v) => (v === 'v2' ? -0.1 : 0));
      await w.run(250);
      return w.end();
    };
    const a = await once();
    expect(a.length).toBeGreaterThan(5);
    expect(await once()).toEqual(a);
  });

  it('checks its config', () => {
    expect(() => learningConfig({ members: [], maxOutcomes: 10, alpha: 1.5 })).toThrow(LearningConfigError);
    try {
      learningConfig({ members: [], maxOutcomes: 10, alpha: 1.5 });
    } catch (e) {
      expect((e as LearningConfigError).issues).toEqual(['members is empty', 'maxOutcomes (10) < minOutcomes (1000)', 'alpha must be in (0, 1), got 1.5']);
      expect((e as LearningConfigError).retriable).toBe(false);
    }
    expect(learningConfig().members).toEqual(['xgb', 'lgbm', 'nhits', 'patchtst']);
  });
});
