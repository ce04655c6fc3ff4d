import { concat, defer, EMPTY, from, merge, of, Subject, type Observable, type ObservableInput, type SchedulerLike } from 'rxjs';
import { concatMap, exhaustMap, map, tap } from 'rxjs/operators';
import { DEFAULT_LABEL } from '../../operators/ensemble/scoring.ts';
import { crossSectionalMeans, dieboldMariano, type PromotionTestResult } from '../../operators/ensemble/promotion-test.ts';
import type { Bar } from '../../schemas/bar.ts';
import { instrumentKey } from '../../schemas/common.ts';
import { deriveId } from '../../schemas/ids.ts';
import type { LearningEvent, LearningStep } from '../../schemas/learning-event.ts';
import type { MemberScore } from '../../schemas/member-score.ts';
import { out, type Outgoing } from '../../schemas/ports.ts';
import type { RegistryEvent } from '../../schemas/registry-event.ts';
import type { LearningRegistry, Trainer } from './ports.ts';

/** The ensemble's members, trained in this order by default. */
export const LEARNING_MEMBERS = ['xgb', 'lgbm', 'nhits', 'patchtst'] as const;

/** The actor continuous learning writes into the registry's events; its own changes are not "external". */
export const LEARNING_ACTOR = 'learning';

/** Settings of continuous learning; counts of outcomes are paired outcomes (one per instrument and bar). */
export interface LearningConfig {
  /** Members retrained, round-robin in this order. */
  readonly members: readonly string[];
  /** A retrain is scheduled every this much event time (bars' tsEvent), the first one this long after the first bar. */
  readonly retrainEveryMs: number;
  /** The latest bars kept per instrument for training. */
  readonly windowBars: number;
  /** H of the label (bars); the promotion test's Newey-West lag is H - 1. */
  readonly horizon: number;
  /** No test before this many paired outcomes. */
  readonly minOutcomes: number;
  /** After minOutcomes, test again every this many paired outcomes. */
  readonly testEveryOutcomes: number;
  /** A candidate not promoted after this many paired outcomes is given up (KEPT). */
  readonly maxOutcomes: number;
  /** Significance level of a promotion (and of a rollback), before the correction for repeated looks. */
  readonly alpha: number;
  /** Minimal mean log-loss improvement per outcome for a promotion (and a rollback). */
  readonly margin: number;
  /** After a promotion, the predecessor is watched this many paired outcomes for a rollback, then removed. */
  readonly watchOutcomes: number;
  /**
   * Repeated looks at a growing sample inflate the false-promotion rate; 'bonferroni' tests each look at alpha / looks
   * (looks = the most a test can have), 'none' at alpha.
   */
  readonly lookCorrection: 'bonferroni' | 'none';
  /** A test or watch still running this long (event time) after it started ends as if it had reached its maximum. */
  readonly maxTestMs: number;
  /** A score waiting this long (outcome time) for its partner is dropped (the other model did not vote on it). */
  readonly pairWindowMs: number;
}

const DAY = 86_400_000;

/** The defaults: daily retrains of the four members on the latest 7 days, 1000 to 20000 outcomes per test. */
export const DEFAULT_LEARNING_CONFIG: LearningConfig = Object.freeze({
  members: LEARNING_MEMBERS,
  retrainEveryMs: DAY,
  windowBars: 7 * 1440,
  horizon: DEFAULT_LABEL.horizonBars,
  minOutcomes: 1000,
  testEveryOutcomes: 1000,
  maxOutcomes: 20_000,
  alpha: 0.05,
  margin: 0,
  watchOutcomes: 10_000,
  lookCorrection: 'bonferroni',
  maxTestMs: 3 * DAY,
  pairWindowMs: 3_600_000,
});

/** A learning config that cannot work (every problem listed). */
export class LearningConfigError extends Error {
  override readonly name = 'LearningConfigError';
  readonly retriable = false;
  constructor(readonly issues: readonly string[]) {
    super(`learning config: ${issues.join('; ')}`);
  }
}

/** Merges overrides into the defaults and checks them; LearningConfigError lists every problem. */
export function learningConfig(overrides: Partial<LearningConfig> = {}): LearningConfig {
  const c: LearningConfig = { ...DEFAULT_LEARNING_CONFIG, ...overrides };
  const issues: string[] = [];
  const positiveInt = (name: keyof LearningConfig): void => {
    const v = c[name] as number;
    if (!Number.isInteger(v) || v <= 0) issues.push(`${name} must be a positive integer, got ${v}`);
  };
  if (c.members.length === 0) issues.push('members is empty');
  if (new Set(c.members).size !== c.members.length) issues.push(`members repeat: ${c.members.join(',')}`);
  for (const k of ['retrainEveryMs', 'windowBars', 'horizon', 'minOutcomes', 'testEveryOutcomes', 'maxOutcomes', 'watchOutcomes', 'maxTestMs', 'pairWindowMs'] as const) positiveInt(k);
  if (c.minOutcomes < 2 * c.horizon) issues.push(`minOutcomes (${c.minOutcomes}) must be at least 2 x horizon (${c.horizon}) for the test`);
  if (c.maxOutcomes < c.minOutcomes) issues.push(`maxOutcomes (${c.maxOutcomes}) < minOutcomes (${c.minOutcomes})`);
  if (c.watchOutcomes < c.minOutcomes) issues.push(`watchOutcomes (${c.watchOutcomes}) < minOutcomes (${c.minOutcomes})`);
  if (!(c.alpha > 0 && c.alpha < 1)) issues.push(`alpha must be in (0, 1), got ${c.alpha}`);
  if (!Number.isFinite(c.margin) || c.margin < 0) issues.push(`margin must be finite and >= 0, got ${c.margin}`);
  if (issues.length > 0) throw new LearningConfigError(issues);
  return Object.freeze(c);
}

/** Inputs of the learning stage. */
export interface LearningInputs {
  /** md.bars.1m.v1: the event-time clock and the training window. */
  readonly bars: Observable<Bar>;
  /** model.scores.v1: every member vote (champions and shadows) scored on its outcome. */
  readonly scores: Observable<MemberScore>;
  /** model.registry.v1: a change by another actor (the CLI) ends a test or watch of the member it touches. */
  readonly registry?: Observable<RegistryEvent>;
}

/** Ports and settings of the learning stage. */
export interface LearningDeps {
  /** Stamps tsInit (and tsEvent of the start-up availability check, before any bar). */
  readonly scheduler: SchedulerLike;
  readonly trainer: Trainer;
  readonly registry: LearningRegistry;
  readonly config?: Partial<LearningConfig>;
}

/** Scores of two versions of a member paired by the feature vector they voted on; d = L_champion - L_challenger. */
class Pairing {
  readonly points: { t: number; d: number }[] = [];
  private readonly pending = new Map<string, { side: 'champion' | 'challenger'; loss: number; at: number }>();
  private readonly paired = new Set<string>();

  constructor(
    readonly champion: string,
    readonly challenger: string,
    private readonly windowMs: number,
  ) {}

  /** Adds a score of the member; true when it completed a pair. */
  add(s: MemberScore): boolean {
    const side = s.modelVersion === this.champion ? 'champion' : s.modelVersion === this.challenger ? 'challenger' : null;
    if (side === null || !Number.isFinite(s.logLoss) || this.paired.has(s.featureId)) return false;
    const other = this.pending.get(s.featureId);
    if (other === undefined) {
      this.pending.set(s.featureId, { side, loss: s.logLoss, at: s.tsEvent });
      this.prune(s.tsEvent);
      return false;
    }
    // At-least-once delivery: the same side twice is a duplicate, not a pair.
    if (other.side === side) return false;
    this.pending.delete(s.featureId);
    this.paired.add(s.featureId);
    const [lChampion, lChallenger] = side === 'champion' ? [s.logLoss, other.loss] : [other.loss, s.logLoss];
    this.points.push({ t: s.tsVote, d: lChampion - lChallenger });
    return true;
  }

  private prune(now: number): void {
    // Insertion order is close to outcome time order, so the stale entries are at the front.
    for (const [id, p] of this.pending) {
      if (p.at >= now - this.windowMs) break;
      this.pending.delete(id);
    }
  }
}

/** What a member is doing. */
type Phase =
  | { readonly kind: 'idle' }
  | { readonly kind: 'training'; readonly version: string; readonly tickMs: number }
  | {
      readonly kind: 'testing' | 'watching';
      /** testing: the candidate vs the champion; watching: the promoted model vs its predecessor. */
      readonly candidate: string;
      readonly champion: string;
      readonly pairing: Pairing;
      readonly startedMs: number;
      readonly tickMs: number;
      nextTestAt: number;
    };

interface TrainingJob {
  readonly member: string;
  readonly version: string;
  readonly outDir: string;
  readonly tickMs: number;
  readonly bars: readonly Bar[];
}

/** The latest `size` bars of an instrument, oldest first. */
class BarWindow {
  private readonly buf: Bar[] = [];
  private start = 0;
  constructor(private readonly size: number) {}
  push(b: Bar): void {
    if (this.buf.length < this.size) this.buf.push(b);
    else {
      this.buf[this.start] = b;
      this.start = (this.start + 1) % this.size;
    }
  }
  appendTo(out: Bar[]): void {
    for (let i = 0; i < this.buf.length; i++) out.push(this.buf[(this.start + i) % this.buf.length]!);
  }
}

const errorText = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));
const iso = (ms: number): string => new Date(ms).toISOString();
const fmt = (x: number): string => (Number.isFinite(x) ? Number(x.toPrecision(4)).toString() : String(x));

/**
 * Continuous learning: retrains members on a schedule in event time and lets the data decide whether a retrained model
 * replaces its champion.
 *
 * - Every `retrainEveryMs` of bar time a tick schedules the next member (round-robin, skipping members still in a test
 *   or watch). One training at a time: a tick during a training is skipped and recorded (SCHEDULED, "skipped").
 * - Per training: SCHEDULED, then TRAINER_UNAVAILABLE (the trainer is checked at start and before every training; the
 *   stage keeps running) or TRAINING_STARTED, then TRAINED or TRAINING_FAILED; the artifact is added as a shadow
 *   (SHADOW_REGISTERED).
 * - The shadow's scores are paired with the champion's by featureId (the same feature vector) and, from `minOutcomes`
 *   on, every `testEveryOutcomes`, tested with the one-sided Diebold-Mariano test (TEST). PROMOTED when p < alpha (per
 *   look) and the mean improvement > margin; KEPT (shadow removed) after `maxOutcomes` without that.
 * - After a promotion the predecessor stays a shadow and is tested against the new champion; ROLLED_BACK if it is
 *   significantly better, else after `watchOutcomes` KEPT and the predecessor removed.
 *
 * Events are keyed by member and have ids derived from member, step, tick and versions. tsEvent is the tick time for
 * scheduling, the latest bar or score time seen when a training finished, and the outcome time of the score that
 * completed a test. Registry changes go one at a time through the port.
 */
export function learningEpic(inputs: LearningInputs, deps: LearningDeps): Observable<Outgoing> {
  const cfg = learningConfig(deps.config);
  const { scheduler, trainer, registry } = deps;
  const lag = cfg.horizon - 1;
  const looksOf = (max: number): number => Math.floor((max - cfg.minOutcomes) / cfg.testEveryOutcomes) + 1;
  const alphaOf = (max: number): number => (cfg.lookCorrection === 'bonferroni' ? cfg.alpha / looksOf(max) : cfg.alpha);
  const members = new Set(cfg.members);

  return defer(() => {
    const phases = new Map<string, Phase>(cfg.members.map((m) => [m, { kind: 'idle' } as Phase]));
    const windows = new Map<string, BarWindow>();
    const jobs = new Subject<TrainingJob>();
    let training: { member: string; version: string } | null = null;
    let pendingJob: TrainingJob | null = null;
    let nextTickMs: number | null = null;
    let turn = 0;
    let lastEventMs = 0;
    // Registry changes one at a time, whichever path (test decision or finished training) asks.
    let registryChain: Promise<unknown> = Promise.resolve();
    const serial = <T>(f: () => Promise<T>): Promise<T> => {
      const p = registryChain.then(f);
      registryChain = p.catch(() => undefined);
      return p;
    };

    const event = (member: string, step: LearningStep, tsEvent: number, idParts: readonly (string | number)[], fields: Partial<LearningEvent> = {}): Outgoing => {
      const value: LearningEvent = {
        id: deriveId('learn', member, step, ...idParts),
        tsEvent,
        tsInit: scheduler.now(),
        member,
        step,
        candidateVersion: '',
        championVersion: '',
        outcomes: 0,
        meanDiff: Number.NaN,
        statistic: Number.NaN,
        pValue: Number.NaN,
        dataFromMs: 0,
        dataToMs: 0,
        detail: '',
        ...fields,
      };
      return out('model.learning.v1', member, value);
    };

    const availability = async (member: string): Promise<{ ok: boolean; detail: string }> => {
      try {
        return await trainer.available(member);
      } catch (e) {
        return { ok: false, detail: `availability check failed: ${errorText(e)}` };
      }
    };

    const onStart = async (): Promise<Outgoing[]> => {
      const now = scheduler.now();
      const outs: Outgoing[] = [];
      for (const member of cfg.members) {
        const a = await availability(member);
        if (!a.ok) outs.push(event(member, 'TRAINER_UNAVAILABLE', now, ['start'], { detail: `at start: ${a.detail}` }));
      }
      return outs;
    };

    const onTick = async (tickMs: number): Promise<Outgoing[]> => {
      const due = cfg.members[turn % cfg.members.length]!;
      if (training !== null) {
        return [event(due, 'SCHEDULED', tickMs, [tickMs, 'skipped'], { detail: `tick at ${iso(tickMs)} skipped: training of ${training.member} ${training.version} in progress` })];
      }
      let member: string | null = null;
      for (let i = 0; i < cfg.members.length && member === null; i++) {
        const m = cfg.members[(turn + i) % cfg.members.length]!;
        if (phases.get(m)!.kind === 'idle') {
          member = m;
          turn = (turn + i + 1) % cfg.members.length;
        }
      }
      if (member === null) {
        const busy = cfg.members.map((m) => `${m} ${phases.get(m)!.kind}`).join(', ');
        return [event(due, 'SCHEDULED', tickMs, [tickMs, 'skipped'], { detail: `tick at ${iso(tickMs)} skipped: every member busy (${busy})` })];
      }
      const bars: Bar[] = [];
      for (const w of windows.values()) w.appendTo(bars);
      const outs = [event(member, 'SCHEDULED', tickMs, [tickMs], { detail: `retrain ${member} at ${iso(tickMs)} on ${bars.length} bars of ${windows.size} instruments` })];
      const a = await availability(member);
      if (!a.ok) {
        outs.push(event(member, 'TRAINER_UNAVAILABLE', tickMs, [tickMs], { detail: a.detail }));
        return outs;
      }
      let version: string;
      let outDir: string;
      let champion: string;
      try {
        version = registry.nextVersion(member);
        outDir = registry.artifactDir(member, version);
        champion = registry.roster(member).champion ?? '';
      } catch (e) {
        outs.push(event(member, 'TRAINING_FAILED', tickMs, [tickMs], { detail: `no version from the registry: ${errorText(e)}` }));
        return outs;
      }
      training = { member, version };
      phases.set(member, { kind: 'training', version, tickMs });
      outs.push(event(member, 'TRAINING_STARTED', tickMs, [tickMs, version], { candidateVersion: version, championVersion: champion, detail: `training ${member} ${version} into ${outDir}` }));
      // Started once these events are out (see main$), so TRAINING_STARTED always precedes the training's own events.
      pendingJob = { member, version, outDir, tickMs, bars };
      return outs;
    };

    const runTraining = async (job: TrainingJob): Promise<Outgoing[]> => {
      const { member, version, tickMs } = job;
      const ids = [tickMs, version];
      const outs: Outgoing[] = [];
      const end = (): void => {
        training = null;
        phases.set(member, { kind: 'idle' });
      };
      let res: Awaited<ReturnType<Trainer['train']>>;
      try {
        res = await trainer.train({ member, version, bars: job.bars, horizon: cfg.horizon, outDir: job.outDir });
      } catch (e) {
        end();
        return [event(member, 'TRAINING_FAILED', lastEventMs, ids, { candidateVersion: version, detail: errorText(e) })];
      }
      const range = { dataFromMs: res.fromMs, dataToMs: res.toMs };
      outs.push(event(member, 'TRAINED', lastEventMs, ids, { candidateVersion: version, ...range, detail: `${member} ${version} trained on ${iso(res.fromMs)} .. ${iso(res.toMs)}, artifact ${res.dir}` }));
      let champion: string | null;
      try {
        champion = await serial(async () => {
          await registry.addShadow(member, version, res.dir, `learning: retrained at ${iso(tickMs)} on ${iso(res.fromMs)} .. ${iso(res.toMs)}`);
          return registry.roster(member).champion;
        });
      } catch (e) {
        end();
        outs.push(event(member, 'TRAINING_FAILED', lastEventMs, [...ids, 'registry'], { candidateVersion: version, ...range, detail: `registry.addShadow failed: ${errorText(e)}` }));
        return outs;
      }
      outs.push(event(member, 'SHADOW_REGISTERED', lastEventMs, ids, { candidateVersion: version, championVersion: champion ?? '', ...range, detail: `${member} ${version} votes as a shadow` }));
      training = null;
      if (champion === null) {
        // Nothing to compare with: the member has no acting model, a trained one is better than none.
        phases.set(member, { kind: 'idle' });
        try {
          await serial(() => registry.promote(member, version, 'learning: member had no champion'));
          outs.push(event(member, 'PROMOTED', lastEventMs, ids, { candidateVersion: version, ...range, detail: `${member} had no champion: ${version} promoted without a test` }));
        } catch (e) {
          outs.push(event(member, 'KEPT', lastEventMs, ids, { candidateVersion: version, ...range, detail: `promotion failed: ${errorText(e)}` }));
        }
        return outs;
      }
      phases.set(member, {
        kind: 'testing',
        candidate: version,
        champion,
        pairing: new Pairing(champion, version, cfg.pairWindowMs),
        startedMs: lastEventMs,
        tickMs,
        nextTestAt: cfg.minOutcomes,
      });
      return outs;
    };

    /** Removes a shadow; the failure, if any, as text for the event's detail. */
    const removeShadow = async (member: string, version: string, reason: string): Promise<string> => {
      try {
        await serial(() => registry.removeShadow(member, version, reason));
        return `shadow ${version} removed`;
      } catch (e) {
        return `removing shadow ${version} failed: ${errorText(e)}`;
      }
    };

    type Active = Extract<Phase, { kind: 'testing' | 'watching' }>;

    /** Ends a test or watch that reached its maximum (or its time limit) without a decision. */
    const giveUp = async (member: string, p: Active, tsEvent: number, why: string): Promise<Outgoing[]> => {
      phases.set(member, { kind: 'idle' });
      const n = p.pairing.points.length;
      const fields = { candidateVersion: p.candidate, championVersion: p.champion, outcomes: n };
      if (p.kind === 'testing') {
        const removed = await removeShadow(member, p.candidate, `learning: not better than ${p.champion} (${why})`);
        return [event(member, 'KEPT', tsEvent, [p.tickMs, p.candidate, p.champion], { ...fields, detail: `${p.champion} stays champion, candidate ${p.candidate} not promoted: ${why}; ${removed}` })];
      }
      const removed = await removeShadow(member, p.champion, `learning: ${p.candidate} kept after its watch (${why})`);
      return [event(member, 'KEPT', tsEvent, [p.tickMs, p.candidate, p.champion], { ...fields, detail: `${p.candidate} stays champion, predecessor ${p.champion} not better: ${why}; ${removed}` })];
    };

    const runTest = async (member: string, p: Active, s: MemberScore): Promise<Outgoing[]> => {
      const n = p.pairing.points.length;
      const r: PromotionTestResult = dieboldMariano(crossSectionalMeans(p.pairing.points), { lag });
      const max = p.kind === 'testing' ? cfg.maxOutcomes : cfg.watchOutcomes;
      const level = alphaOf(max);
      const significant = r.pValue < level && r.meanDiff > cfg.margin;
      p.nextTestAt += cfg.testEveryOutcomes;
      const how = `Diebold-Mariano on ${r.n} bar times (${n} paired outcomes), Newey-West lag ${lag}, HLN, t(${r.n - 1}); level ${fmt(level)}${cfg.lookCorrection === 'bonferroni' ? ` (alpha ${cfg.alpha} / ${looksOf(max)} looks)` : ''}, margin ${cfg.margin}`;
      const idParts = [p.tickMs, p.candidate, p.champion, p.kind, n];
      const fields = { candidateVersion: p.candidate, championVersion: p.champion, outcomes: n };
      const outs: Outgoing[] = [];
      if (p.kind === 'testing') {
        outs.push(event(member, 'TEST', s.tsEvent, idParts, { ...fields, meanDiff: r.meanDiff, statistic: r.statistic, pValue: r.pValue, detail: `H1: candidate ${p.candidate} has lower log loss than champion ${p.champion}; ${how}` }));
        if (significant) {
          const reason = `learning: ${p.candidate} better than ${p.champion}, mean log-loss gain ${fmt(r.meanDiff)}, p ${fmt(r.pValue)} < ${fmt(level)} over ${n} outcomes`;
          try {
            await serial(() => registry.promote(member, p.candidate, reason));
          } catch (e) {
            const removed = await removeShadow(member, p.candidate, 'learning: promotion failed');
            phases.set(member, { kind: 'idle' });
            outs.push(event(member, 'KEPT', s.tsEvent, [p.tickMs, p.candidate, p.champion], { ...fields, detail: `promotion failed: ${errorText(e)}; ${removed}` }));
            return outs;
          }
          outs.push(event(member, 'PROMOTED', s.tsEvent, [p.tickMs, p.candidate, p.champion], { ...fields, meanDiff: r.meanDiff, statistic: r.statistic, pValue: r.pValue, detail: reason.replace('learning: ', '') }));
          // The predecessor stays a shadow: now it is the challenger of the new champion (d = L_new - L_predecessor).
          phases.set(member, {
            kind: 'watching',
            candidate: p.candidate,
            champion: p.champion,
            pairing: new Pairing(p.candidate, p.champion, cfg.pairWindowMs),
            startedMs: s.tsEvent,
            tickMs: p.tickMs,
            nextTestAt: cfg.minOutcomes,
          });
          return outs;
        }
      } else {
        // The test ran with the predecessor as challenger; reported in the event's frame (championVersion = the
        // predecessor, meanDiff > 0: the new champion better), so statistic flips sign and pValue = P(T <= statistic).
        outs.push(event(member, 'TEST', s.tsEvent, idParts, { ...fields, meanDiff: -r.meanDiff, statistic: -r.statistic, pValue: r.pValue, detail: `rollback check, H1: predecessor ${p.champion} has lower log loss than champion ${p.candidate} (pValue = P(T <= statistic)); ${how}` }));
        if (significant) {
          const reason = `learning: predecessor ${p.champion} better than ${p.candidate}, mean log-loss gain ${fmt(r.meanDiff)}, p ${fmt(r.pValue)} < ${fmt(level)} over ${n} outcomes`;
          try {
            await serial(() => registry.rollback(member, reason));
          } catch (e) {
            phases.set(member, { kind: 'idle' });
            outs.push(event(member, 'KEPT', s.tsEvent, [p.tickMs, p.candidate, p.champion], { ...fields, detail: `rollback failed: ${errorText(e)}; ${p.candidate} stays champion` }));
            return outs;
          }
          phases.set(member, { kind: 'idle' });
          // Whether the demoted model stays a shadow is the registry's choice; learning does not keep it voting.
          let demoted = true;
          try {
            demoted = registry.roster(member).shadows.includes(p.candidate);
          } catch {
            // Unknown roster: ask for the removal anyway; its failure ends up in the detail.
          }
          const removed = demoted ? `; ${await removeShadow(member, p.candidate, 'learning: rolled back')}` : '';
          outs.push(event(member, 'ROLLED_BACK', s.tsEvent, [p.tickMs, p.candidate, p.champion], { ...fields, meanDiff: -r.meanDiff, statistic: -r.statistic, pValue: r.pValue, detail: `${reason.replace('learning: ', '')}; ${p.champion} restored${removed}` }));
          return outs;
        }
      }
      if (n >= max) outs.push(...(await giveUp(member, p, s.tsEvent, `${n} paired outcomes without a significant difference`)));
      return outs;
    };

    const onScore = (s: MemberScore): Outgoing[] | Promise<Outgoing[]> => {
      lastEventMs = Math.max(lastEventMs, s.tsEvent);
      const p = phases.get(s.member);
      if (p === undefined || (p.kind !== 'testing' && p.kind !== 'watching')) return [];
      if (!p.pairing.add(s)) return [];
      return p.pairing.points.length >= p.nextTestAt ? runTest(s.member, p, s) : [];
    };

    const onBar = (bar: Bar): Outgoing[] | Promise<Outgoing[]> => {
      lastEventMs = Math.max(lastEventMs, bar.tsEvent);
      const key = instrumentKey(bar);
      let w = windows.get(key);
      if (w === undefined) windows.set(key, (w = new BarWindow(cfg.windowBars)));
      w.push(bar);
      const expired = cfg.members.filter((m) => {
        const p = phases.get(m)!;
        return (p.kind === 'testing' || p.kind === 'watching') && bar.tsEvent - p.startedMs >= cfg.maxTestMs;
      });
      let tick: number | null = null;
      if (nextTickMs === null) nextTickMs = bar.tsEvent + cfg.retrainEveryMs;
      else if (bar.tsEvent >= nextTickMs) {
        tick = nextTickMs;
        // After a gap in the bars, one tick for the missed ones, then back on the grid.
        nextTickMs += cfg.retrainEveryMs * (Math.floor((bar.tsEvent - nextTickMs) / cfg.retrainEveryMs) + 1);
      }
      if (expired.length === 0 && tick === null) return [];
      return (async () => {
        const outs: Outgoing[] = [];
        for (const m of expired) {
          const p = phases.get(m) as Active;
          outs.push(...(await giveUp(m, p, bar.tsEvent, `time limit: ${p.pairing.points.length} paired outcomes in ${fmt((bar.tsEvent - p.startedMs) / 3_600_000)} h`)));
        }
        if (tick !== null) outs.push(...(await onTick(tick)));
        return outs;
      })();
    };

    const onRegistry = (e: RegistryEvent): Outgoing[] | Promise<Outgoing[]> => {
      if (e.actor === LEARNING_ACTOR || !members.has(e.member)) return [];
      const p = phases.get(e.member)!;
      if (p.kind !== 'testing' && p.kind !== 'watching') return [];
      // testing: the champion must stay and the candidate must stay a shadow; watching: the promoted model must stay
      // champion and the predecessor a shadow. Anything else makes the comparison meaningless.
      const [acting, shadow] = p.kind === 'testing' ? [p.champion, p.candidate] : [p.candidate, p.champion];
      if (e.champion === acting && e.shadows.includes(shadow)) return [];
      phases.set(e.member, { kind: 'idle' });
      const what = `registry changed by ${e.actor || 'unknown'} (${e.action} ${e.version}: champion ${e.champion || 'none'}, shadows ${e.shadows.join(',') || 'none'})`;
      return (async () => {
        const removed = p.kind === 'testing' && e.shadows.includes(p.candidate) && e.champion !== p.candidate
          ? `; ${await removeShadow(e.member, p.candidate, 'learning: test abandoned after a registry change')}`
          : '';
        return [event(e.member, 'KEPT', e.tsEvent, [p.tickMs, p.candidate, p.champion, 'external', e.id], {
          candidateVersion: p.candidate,
          championVersion: p.champion,
          outcomes: p.pairing.points.length,
          detail: `${p.kind === 'testing' ? 'test' : 'watch'} abandoned: ${what}${removed}`,
        })];
      })();
    };

    type Input =
      | { readonly kind: 'start' }
      | { readonly kind: 'bar'; readonly bar: Bar }
      | { readonly kind: 'score'; readonly score: MemberScore }
      | { readonly kind: 'registry'; readonly event: RegistryEvent };

    const handle = (i: Input): ObservableInput<Outgoing[]> => {
      // Most inputs change nothing or only memory: they answer synchronously; registry calls and checks are awaited.
      const r = i.kind === 'start' ? onStart() : i.kind === 'bar' ? onBar(i.bar) : i.kind === 'score' ? onScore(i.score) : onRegistry(i.event);
      return Array.isArray(r) ? of(r) : from(r);
    };

    const main$ = merge(
      of<Input>({ kind: 'start' }),
      inputs.bars.pipe(map((bar): Input => ({ kind: 'bar', bar }))),
      inputs.scores.pipe(map((score): Input => ({ kind: 'score', score }))),
      (inputs.registry ?? EMPTY).pipe(map((event): Input => ({ kind: 'registry', event }))),
    ).pipe(
      // One input at a time, in order: the state above is only touched between awaits of one handler.
      concatMap(handle),
      concatMap((outs) =>
        concat(
          outs,
          defer(() => {
            const job = pendingJob;
            pendingJob = null;
            if (job) jobs.next(job);
            return EMPTY;
          }),
        ),
      ),
      // Every tick that could start a training has been handled: no job after this.
      tap({ complete: () => jobs.complete(), error: () => jobs.complete() }),
    );
    // Trainings run beside the inputs (scores keep flowing); exhaustMap guards "one at a time" (onTick checks first).
    const trainings$ = jobs.pipe(exhaustMap((job) => from(runTraining(job))));
    return merge(trainings$.pipe(concatMap((outs) => outs)), main$);
  });
}
