import type { LearningRegistry, Roster, Trainer, TrainerAvailability, TrainRequest, TrainResult } from './ports.ts';

/** A registry change the FakeRegistry was asked for. */
export interface FakeRegistryCall {
  readonly op: 'addShadow' | 'promote' | 'rollback' | 'removeShadow';
  readonly member: string;
  readonly version: string;
  readonly reason: string;
}

interface MutableRoster {
  champion: string | null;
  shadows: string[];
  history: string[];
  known: Set<string>;
}

/**
 * An in-memory LearningRegistry for tests: versions v1, v2, ... per member; promote keeps the former champion as a
 * shadow (as the real registry does), rollback restores the last former champion and keeps the demoted one as a shadow.
 * `fail` makes the next call of an operation reject.
 */
export class FakeRegistry implements LearningRegistry {
  readonly calls: FakeRegistryCall[] = [];
  private readonly rosters = new Map<string, MutableRoster>();
  private readonly failures = new Map<FakeRegistryCall['op'], Error>();

  constructor(champions: Readonly<Record<string, string | null>> = {}) {
    for (const [member, champion] of Object.entries(champions)) {
      this.rosters.set(member, { champion, shadows: [], history: [], known: new Set(champion === null ? [] : [champion]) });
    }
  }

  private of(member: string): MutableRoster {
    let r = this.rosters.get(member);
    if (!r) this.rosters.set(member, (r = { champion: null, shadows: [], history: [], known: new Set() }));
    return r;
  }

  /** Makes the next call of `op` reject with this error. */
  fail(op: FakeRegistryCall['op'], error: Error): void {
    this.failures.set(op, error);
  }

  private record(call: FakeRegistryCall): void {
    const e = this.failures.get(call.op);
    if (e) {
      this.failures.delete(call.op);
      throw e;
    }
    this.calls.push(call);
  }

  roster(member: string): Roster {
    const r = this.of(member);
    return { champion: r.champion, shadows: [...r.shadows], history: [...r.history] };
  }

  nextVersion(member: string): string {
    const n = [...this.of(member).known].map((v) => Number(v.replace(/^v/, ''))).filter(Number.isFinite);
    return `v${Math.max(0, ...n) + 1}`;
  }

  artifactDir(member: string, version: string): string {
    return `/fake-registry/models/${member}/${version}`;
  }

  async addShadow(member: string, version: string, _dir: string, reason: string): Promise<void> {
    this.record({ op: 'addShadow', member, version, reason });
    const r = this.of(member);
    r.known.add(version);
    r.shadows.push(version);
  }

  async promote(member: string, version: string, reason: string): Promise<void> {
    const r = this.of(member);
    if (!r.shadows.includes(version)) throw new Error(`${member} ${version} is not a shadow`);
    this.record({ op: 'promote', member, version, reason });
    r.shadows = r.shadows.filter((v) => v !== version);
    if (r.champion !== null) {
      r.history.push(r.champion);
      r.shadows.push(r.champion);
    }
    r.champion = version;
  }

  async rollback(member: string, reason: string): Promise<void> {
    const r = this.of(member);
    const previous = r.history.at(-1);
    if (previous === undefined) throw new Error(`${member} has no former champion`);
    this.record({ op: 'rollback', member, version: previous, reason });
    r.history.pop();
    r.shadows = r.shadows.filter((v) => v !== previous);
    if (r.champion !== null) r.shadows.push(r.champion);
    r.champion = previous;
  }

  async removeShadow(member: string, version: string, reason: string): Promise<void> {
    this.record({ op: 'removeShadow', member, version, reason });
    const r = this.of(member);
    r.shadows = r.shadows.filter((v) => v !== version);
  }
}

/** How a FakeTrainer answers one train() call: a result, an error, or a promise the test settles. */
export type FakeTraining = TrainResult | Error | Promise<TrainResult>;

/**
 * A Trainer for tests: availability per member (default available), and train() answers from a queue of outcomes
 * (then from `fallback`); records every request.
 */
export class FakeTrainer implements Trainer {
  readonly requests: TrainRequest[] = [];
  availabilityChecks = 0;
  private readonly queue: FakeTraining[];

  constructor(
    private readonly opts: {
      readonly available?: (member: string) => TrainerAvailability;
      readonly outcomes?: readonly FakeTraining[];
      /** After the queue: by default a result spanning the request's bars. */
      readonly fallback?: (req: TrainRequest) => FakeTraining;
    } = {},
  ) {
    this.queue = [...(opts.outcomes ?? [])];
  }

  async available(member: string): Promise<TrainerAvailability> {
    this.availabilityChecks++;
    return this.opts.available?.(member) ?? { ok: true, detail: 'fake trainer' };
  }

  async train(req: TrainRequest): Promise<TrainResult> {
    this.requests.push(req);
    const o = this.queue.length > 0 ? this.queue.shift()! : (this.opts.fallback ?? spanOf)(req);
    if (o instanceof Error) throw o;
    return o;
  }
}

function spanOf(req: TrainRequest): TrainResult {
  let fromMs = Infinity;
  let toMs = -Infinity;
  for (const b of req.bars) {
    fromMs = Math.min(fromMs, b.openTime);
    toMs = Math.max(toMs, b.openTime);
  }
  return req.bars.length > 0 ? { dir: req.outDir, fromMs, toMs } : { dir: req.outDir, fromMs: 0, toMs: 0 };
}
