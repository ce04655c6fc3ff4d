import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import type { RegistryEvent } from '../../schemas/registry-event.ts';
import { RegistryRuleError } from './errors.ts';
import {
  applyChanges,
  EMPTY_ROSTER,
  foldRoster,
  planPromote,
  planRegister,
  planRollback,
  planShadow,
  rosterOf,
  type RegistryChange,
  type Roster,
} from './roster.ts';

const META = { actor: 'test', reason: 'because' };

/** Stamps changes as the log would, after `from` events. */
function stamp(changes: readonly RegistryChange[], from = 0): RegistryEvent[] {
  return changes.map((c, i) => ({ ...c, id: `reg-${from + i + 1}`, seq: from + i + 1, tsEvent: 1000 + i, tsInit: 1000 + i }));
}

/** A roster built through the planners: xgb v1 champion, v2 and v3 registered. */
function base(): { roster: Roster; events: RegistryEvent[] } {
  let roster = EMPTY_ROSTER;
  const changes: RegistryChange[] = [];
  const add = (cs: RegistryChange[]): void => {
    changes.push(...cs);
    roster = applyChanges(roster, cs);
  };
  add(planRegister(roster, 'xgb', 'v1', 'store/xgb/v1', META));
  add(planPromote(roster, 'xgb', 'v1', META));
  add(planRegister(roster, 'xgb', 'v2', 'models/xgb/v2', META));
  add(planRegister(roster, 'xgb', 'v3', 'models/xgb/v3', META));
  return { roster, events: stamp(changes) };
}

function rule(f: () => unknown): RegistryRuleError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RegistryRuleError);
    expect((e as RegistryRuleError).retriable).toBe(false);
    return e as RegistryRuleError;
  }
  throw new Error('no RegistryRuleError');
}

describe('rosterOf', () => {
  it('folds each event into the roster: register, promote (former champion stays a shadow), rollback (demoted one stops)', () => {
    const { events } = base();
    let r = foldRoster(events);
    const promote = stamp(planPromote(r, 'xgb', 'v2', META), events.length);
    r = foldRoster(promote, r);
    const rollback = stamp(planRollback(r, 'xgb', META), events.length + promote.length);
    const [e1, e2, e3, e4] = events;
    const [p1] = promote;
    const [b1] = rollback;
    new TestScheduler((a, b) => expect(a).toEqual(b)).run(({ cold, expectObservable }) => {
      const src = cold('a-b-c-d-p-q|', { a: e1!, b: e2!, c: e3!, d: e4!, p: p1!, q: b1! });
      const v = (m: { champion: string | null; shadows: string[]; history: string[]; versions: Record<string, string>; seq: number }, seq: number): Roster => ({
        seq,
        members: { xgb: { member: 'xgb', ...m } },
      });
      const v1 = { 'v1': 'store/xgb/v1' };
      const all = { ...v1, 'v2': 'models/xgb/v2', 'v3': 'models/xgb/v3' };
      expectObservable(src.pipe(rosterOf())).toBe('a-b-c-d-p-q|', {
        a: v({ champion: null, shadows: [], history: [], versions: v1, seq: 1 }, 1),
        b: v({ champion: 'v1', shadows: [], history: [], versions: v1, seq: 2 }, 2),
        c: v({ champion: 'v1', shadows: [], history: [], versions: { ...v1, v2: 'models/xgb/v2' }, seq: 3 }, 3),
        d: v({ champion: 'v1', shadows: [], history: [], versions: all, seq: 4 }, 4),
        p: v({ champion: 'v2', shadows: ['v1'], history: ['v1'], versions: all, seq: 5 }, 5),
        q: v({ champion: 'v1', shadows: [], history: [], versions: all, seq: 6 }, 6),
      });
    });
  });

  it('ignores a redelivered event and keeps members apart', () => {
    const { events } = base();
    const other = stamp(planRegister(foldRoster(events), 'nhits', 'v1', 'store/nhits/v1', META), events.length);
    const [e1, e2] = events;
    new TestScheduler((a, b) => expect(a).toEqual(b)).run(({ cold, expectObservable }) => {
      const src = cold('a-b-a-b-n|', { a: e1!, b: e2!, n: { ...other[0]!, seq: 3 } });
      const xgb = (champion: string | null, seq: number) => ({ member: 'xgb', champion, shadows: [], history: [], versions: { v1: 'store/xgb/v1' }, seq });
      expectObservable(src.pipe(rosterOf())).toBe('a-b-c-d-n|', {
        a: { seq: 1, members: { xgb: xgb(null, 1) } },
        b: { seq: 2, members: { xgb: xgb('v1', 2) } },
        c: { seq: 2, members: { xgb: xgb('v1', 2) } },
        d: { seq: 2, members: { xgb: xgb('v1', 2) } },
        n: {
          seq: 3,
          members: { xgb: xgb('v1', 2), nhits: { member: 'nhits', champion: null, shadows: [], history: [], versions: { v1: 'store/nhits/v1' }, seq: 3 } },
        },
      });
    });
  });
});

describe('planners', () => {
  it('planRegister refuses a duplicate version, registers a new member, and adds a shadow on request', () => {
    const { roster } = base();
    expect(rule(() => planRegister(roster, 'xgb', 'v2', 'elsewhere/v2', META)).message).toBe('cannot register xgb v2: xgb v2 is already registered (models/xgb/v2)');
    expect(planRegister(roster, 'tft', 'v1', 'models/tft/v1', META)).toEqual([
      { member: 'tft', action: 'REGISTERED', version: 'v1', champion: '', previousChampion: '', shadows: [], dir: 'models/tft/v1', ...META },
    ]);
    const shadow = planRegister(roster, 'xgb', 'v4', 'models/xgb/v4', { ...META, shadow: true });
    expect(shadow.map((c) => [c.action, c.version, c.champion, c.shadows, c.dir])).toEqual([
      ['REGISTERED', 'v4', 'v1', [], 'models/xgb/v4'],
      ['SHADOW_ADDED', 'v4', 'v1', ['v4'], 'models/xgb/v4'],
    ]);
  });

  it('planPromote needs a registered version that is not the champion, and lists every reason', () => {
    const { roster } = base();
    expect(rule(() => planPromote(roster, 'xgb', 'v1', META)).reasons).toEqual(['v1 is already the champion of xgb']);
    expect(rule(() => planPromote(roster, 'xgb', 'v9', META)).message).toBe('cannot promote xgb v9: xgb has no version v9 (registered: v1, v2, v3)');
    expect(rule(() => planPromote(roster, 'lstm', 'v1', META)).reasons).toEqual(['member lstm is not in the registry (members: xgb)']);
    const [p] = planPromote(roster, 'xgb', 'v3', META);
    expect(p).toEqual({ member: 'xgb', action: 'PROMOTED', version: 'v3', champion: 'v3', previousChampion: 'v1', shadows: ['v1'], dir: 'models/xgb/v3', ...META });
  });

  it('promoting past maxShadows removes the oldest shadow in the same batch', () => {
    let { roster } = base();
    roster = applyChanges(roster, planShadow(roster, 'add', 'xgb', 'v2', META));
    roster = applyChanges(roster, planShadow(roster, 'add', 'xgb', 'v3', META));
    expect(roster.members.xgb!.shadows).toEqual(['v2', 'v3']);
    roster = applyChanges(roster, planRegister(roster, 'xgb', 'v4', 'models/xgb/v4', META));
    const batch = planPromote(roster, 'xgb', 'v4', META);
    expect(batch.map((c) => [c.action, c.version, c.champion, c.previousChampion, c.shadows])).toEqual([
      ['PROMOTED', 'v4', 'v4', 'v1', ['v2', 'v3', 'v1']],
      ['SHADOW_REMOVED', 'v2', 'v4', 'v4', ['v3', 'v1']],
    ]);
    expect(batch[1]!.reason).toContain('at most 2 shadows per member');
    // Promoting a shadow takes it out of the shadows: no eviction needed.
    expect(planPromote(roster, 'xgb', 'v3', META).map((c) => c.shadows)).toEqual([['v2', 'v1']]);
    // maxShadows 1: two evictions, oldest first.
    expect(planPromote(roster, 'xgb', 'v4', META, 1).map((c) => `${c.action} ${c.version}`)).toEqual(['PROMOTED v4', 'SHADOW_REMOVED v2', 'SHADOW_REMOVED v3']);
  });

  it('planRollback restores the most recent former champion and drops the demoted one from serving', () => {
    let { roster } = base();
    expect(rule(() => planRollback(roster, 'xgb', META)).message).toBe('cannot roll back xgb: xgb has no former champion to restore (champion v1)');
    roster = applyChanges(roster, planPromote(roster, 'xgb', 'v2', META));
    roster = applyChanges(roster, planPromote(roster, 'xgb', 'v3', META));
    expect(roster.members.xgb).toMatchObject({ champion: 'v3', shadows: ['v1', 'v2'], history: ['v1', 'v2'] });
    const [b] = planRollback(roster, 'xgb', META);
    expect(b).toEqual({ member: 'xgb', action: 'ROLLED_BACK', version: 'v2', champion: 'v2', previousChampion: 'v3', shadows: ['v1'], dir: 'models/xgb/v2', ...META });
    roster = applyChanges(roster, [b!]);
    expect(roster.members.xgb).toMatchObject({ champion: 'v2', shadows: ['v1'], history: ['v1'] });
    roster = applyChanges(roster, planRollback(roster, 'xgb', META));
    expect(roster.members.xgb).toMatchObject({ champion: 'v1', shadows: [], history: [] });
  });

  it('re-promoting a former champion moves it out of the history, so a rollback never restores the champion', () => {
    let { roster } = base();
    roster = applyChanges(roster, planPromote(roster, 'xgb', 'v2', META));
    roster = applyChanges(roster, planPromote(roster, 'xgb', 'v1', META));
    expect(roster.members.xgb).toMatchObject({ champion: 'v1', history: ['v2'], shadows: ['v2'] });
    expect(planRollback(roster, 'xgb', META)[0]).toMatchObject({ version: 'v2', champion: 'v2', previousChampion: 'v1', shadows: [] });
  });

  it('planShadow adds a registered non-champion version once and removes only a shadow', () => {
    let { roster } = base();
    expect(rule(() => planShadow(roster, 'add', 'xgb', 'v1', META)).reasons).toEqual(['v1 is the champion of xgb']);
    expect(rule(() => planShadow(roster, 'add', 'xgb', 'v7', META)).reasons).toEqual(['xgb has no version v7 (registered: v1, v2, v3)']);
    expect(rule(() => planShadow(roster, 'remove', 'xgb', 'v2', META)).message).toBe('cannot remove shadow xgb v2: v2 is not a shadow of xgb (shadows: none)');
    const [add] = planShadow(roster, 'add', 'xgb', 'v2', META);
    expect(add).toEqual({ member: 'xgb', action: 'SHADOW_ADDED', version: 'v2', champion: 'v1', previousChampion: 'v1', shadows: ['v2'], dir: 'models/xgb/v2', ...META });
    roster = applyChanges(roster, [add!]);
    expect(rule(() => planShadow(roster, 'add', 'xgb', 'v2', META)).reasons).toEqual(['v2 is already a shadow of xgb']);
    expect(planShadow(roster, 'remove', 'xgb', 'v2', META)[0]).toMatchObject({ action: 'SHADOW_REMOVED', version: 'v2', shadows: [] });
    expect(rule(() => planShadow(roster, 'add', 'xgb', 'v3', META, 0)).reasons).toEqual(['shadows are disabled (maxShadows 0)']);
  });
});
