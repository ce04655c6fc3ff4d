import { scan, type OperatorFunction } from 'rxjs';
import type { RegistryEvent } from '../../schemas/registry-event.ts';
import { RegistryRuleError } from './errors.ts';

/**
 * The roster: who serves, folded from the registry's events. Pure (no I/O): the same fold runs on the log file, on
 * model.registry.v1 and in the planners, which check the registry's rules before a change is appended.
 */

/** One member's state in the registry. */
export interface MemberRoster {
  readonly member: string;
  /** The acting version, null when the member has none. */
  readonly champion: string | null;
  /** Versions that vote into the journal without acting, oldest first (the first to go past maxShadows). */
  readonly shadows: readonly string[];
  /** Former champions, most recent last (what a rollback restores); never holds the champion, each version once. */
  readonly history: readonly string[];
  /** Every registered version -> its artifact folder as written in the log (resolve with resolveArtifactDir). */
  readonly versions: Readonly<Record<string, string>>;
  /** Seq of the last event applied to the member. */
  readonly seq: number;
}

/** Every member's state after the events with seq <= `seq`. */
export interface Roster {
  /** Highest seq applied. */
  readonly seq: number;
  /** By member name. */
  readonly members: Readonly<Record<string, MemberRoster>>;
}

/** A registry change before the log stamps it: RegistryEvent without id, seq and times. */
export type RegistryChange = Omit<RegistryEvent, 'id' | 'seq' | 'tsEvent' | 'tsInit'>;

/** Who makes a change and why (RegistryEvent.actor, RegistryEvent.reason). */
export interface ChangeMeta {
  readonly actor: string;
  readonly reason: string;
}

/** Shadows a member keeps at most unless told otherwise; each shadow costs one model run per micro-batch. */
export const DEFAULT_MAX_SHADOWS = 2;

/** The roster before the first event. */
export const EMPTY_ROSTER: Roster = Object.freeze({ seq: 0, members: Object.freeze({}) });

const without = (list: readonly string[], ...drop: string[]): string[] => list.filter((v) => !drop.includes(v));

/**
 * Applies one event. The event carries the member's champion and shadows after it, which are taken as they are (the
 * log is the source of truth); history and versions follow from the action. An event whose seq the member has already
 * applied is ignored, so redelivery (at-least-once) changes nothing.
 */
export function applyRegistryEvent(roster: Roster, e: RegistryEvent): Roster {
  const prev = roster.members[e.member];
  if (prev && e.seq <= prev.seq) return roster;
  const champion = e.champion === '' ? null : e.champion;
  let history = prev?.history ?? [];
  let versions = prev?.versions ?? {};
  switch (e.action) {
    case 'PROMOTED': {
      const before = e.previousChampion;
      history = before !== '' && before !== e.champion ? [...without(history, before, e.champion), before] : without(history, e.champion);
      break;
    }
    case 'ROLLED_BACK':
      history = without(history, e.champion, e.previousChampion);
      break;
    default:
      break;
  }
  if (e.version !== '' && e.dir !== '' && (e.action === 'REGISTERED' || versions[e.version] === undefined)) {
    versions = { ...versions, [e.version]: e.dir };
  }
  const next: MemberRoster = {
    member: e.member,
    champion: e.action === 'OTHER' ? (prev?.champion ?? null) : champion,
    shadows: e.action === 'OTHER' ? (prev?.shadows ?? []) : [...e.shadows],
    history,
    versions,
    seq: e.seq,
  };
  return { seq: Math.max(roster.seq, e.seq), members: { ...roster.members, [e.member]: next } };
}

/** The roster after a sequence of events. */
export function foldRoster(events: Iterable<RegistryEvent>, from: Roster = EMPTY_ROSTER): Roster {
  let r = from;
  for (const e of events) r = applyRegistryEvent(r, e);
  return r;
}

/** Registry events (model.registry.v1 or the log) -> the roster after each one. */
export function rosterOf(): OperatorFunction<RegistryEvent, Roster> {
  return scan(applyRegistryEvent, EMPTY_ROSTER);
}

/**
 * The roster after planned changes, as if the log stamped them with the next seqs: lets a planner (or the bootstrap)
 * chain changes in one batch.
 */
export function applyChanges(roster: Roster, changes: readonly RegistryChange[]): Roster {
  let r = roster;
  changes.forEach((c, i) => {
    r = applyRegistryEvent(r, { ...c, id: '', seq: roster.seq + i + 1, tsEvent: 0, tsInit: 0 });
  });
  return r;
}

const list = (vs: Iterable<string>): string => [...vs].join(', ') || 'none';

/** The member, or the reason it cannot be acted on. */
function memberOf(roster: Roster, member: string, reasons: string[]): MemberRoster | undefined {
  const m = roster.members[member];
  if (!m) reasons.push(`member ${member} is not in the registry (members: ${list(Object.keys(roster.members).sort())})`);
  return m;
}

function needVersion(m: MemberRoster, version: string, reasons: string[]): void {
  if (m.versions[version] === undefined) reasons.push(`${m.member} has no version ${version} (registered: ${list(Object.keys(m.versions))})`);
}

function refuse(operation: string, reasons: readonly string[]): void {
  if (reasons.length > 0) throw new RegistryRuleError(operation, reasons);
}

function checkMax(maxShadows: number): void {
  if (!Number.isInteger(maxShadows) || maxShadows < 0) throw new RangeError(`maxShadows must be an integer >= 0, got ${maxShadows}`);
}

/** A change of `m` to `champion` and `shadows`, acting on `version`. */
function change(m: MemberRoster, action: RegistryChange['action'], version: string, after: { champion: string | null; shadows: readonly string[] }, meta: ChangeMeta, dir?: string): RegistryChange {
  return {
    member: m.member,
    action,
    version,
    champion: after.champion ?? '',
    previousChampion: m.champion ?? '',
    shadows: [...after.shadows],
    dir: dir ?? m.versions[version] ?? '',
    actor: meta.actor,
    reason: meta.reason,
  };
}

/** SHADOW_REMOVED changes of the oldest shadows while the member (after `changes`) has more than maxShadows. */
function evictions(roster: Roster, changes: readonly RegistryChange[], member: string, maxShadows: number, meta: ChangeMeta): RegistryChange[] {
  const out: RegistryChange[] = [];
  let r = applyChanges(roster, changes);
  for (let m = r.members[member]!; m.shadows.length > maxShadows; m = r.members[member]!) {
    const oldest = m.shadows[0]!;
    const c = change(m, 'SHADOW_REMOVED', oldest, { champion: m.champion, shadows: m.shadows.slice(1) }, {
      actor: meta.actor,
      reason: `at most ${maxShadows} shadow${maxShadows === 1 ? '' : 's'} per member: the oldest, ${oldest}, stops (${meta.reason})`,
    });
    out.push(c);
    r = applyChanges(r, [c]);
  }
  return out;
}

/**
 * Registers a version of a member (a new member too), optionally as a shadow (then past maxShadows the oldest shadow
 * is removed in the same batch). Refuses a version the member already has.
 */
export function planRegister(
  roster: Roster,
  member: string,
  version: string,
  dir: string,
  meta: ChangeMeta & { readonly shadow?: boolean },
  maxShadows = DEFAULT_MAX_SHADOWS,
): RegistryChange[] {
  checkMax(maxShadows);
  const reasons: string[] = [];
  const m: MemberRoster = roster.members[member] ?? { member, champion: null, shadows: [], history: [], versions: {}, seq: 0 };
  if (member === '') reasons.push('the member name is empty');
  if (version === '') reasons.push('the version is empty');
  if (dir === '') reasons.push('the artifact folder is empty');
  if (m.versions[version] !== undefined) reasons.push(`${member} ${version} is already registered (${m.versions[version]})`);
  if (meta.shadow && maxShadows === 0) reasons.push('shadows are disabled (maxShadows 0)');
  refuse(`register ${member} ${version}`, reasons);
  const registered = change(m, 'REGISTERED', version, m, meta, dir);
  if (!meta.shadow) return [registered];
  const added = change({ ...m, versions: { ...m.versions, [version]: dir } }, 'SHADOW_ADDED', version, { champion: m.champion, shadows: [...m.shadows, version] }, meta);
  return [registered, added, ...evictions(roster, [registered, added], member, maxShadows, meta)];
}

/**
 * Makes a registered version the champion. The former champion goes on the history and stays a shadow (its live score
 * keeps being measured, which a rollback decision needs); past maxShadows the oldest shadow is removed in the same batch.
 */
export function planPromote(roster: Roster, member: string, version: string, meta: ChangeMeta, maxShadows = DEFAULT_MAX_SHADOWS): RegistryChange[] {
  checkMax(maxShadows);
  const reasons: string[] = [];
  const m = memberOf(roster, member, reasons);
  if (m) {
    needVersion(m, version, reasons);
    if (m.champion === version) reasons.push(`${version} is already the champion of ${member}`);
  }
  refuse(`promote ${member} ${version}`, reasons);
  const shadows = without(m!.shadows, version);
  if (m!.champion !== null) shadows.push(m!.champion);
  const promoted = change(m!, 'PROMOTED', version, { champion: version, shadows }, meta);
  return [promoted, ...evictions(roster, [promoted], member, maxShadows, meta)];
}

/**
 * Restores the most recent former champion: it leaves the shadows and the history, and the demoted champion stops
 * serving (it is not kept as a shadow: it was rolled back for a reason).
 */
export function planRollback(roster: Roster, member: string, meta: ChangeMeta): RegistryChange[] {
  const reasons: string[] = [];
  const m = memberOf(roster, member, reasons);
  const restored = m?.history.at(-1);
  if (m && restored === undefined) reasons.push(`${member} has no former champion to restore (champion ${m.champion ?? 'none'})`);
  refuse(`roll back ${member}`, reasons);
  const shadows = without(m!.shadows, restored!, ...(m!.champion === null ? [] : [m!.champion]));
  return [change(m!, 'ROLLED_BACK', restored!, { champion: restored!, shadows }, meta)];
}

/**
 * Starts (add) or stops (remove) a shadow. Add: a registered version that is neither the champion nor a shadow; past
 * maxShadows the oldest shadow is removed in the same batch. Remove: a current shadow.
 */
export function planShadow(roster: Roster, op: 'add' | 'remove', member: string, version: string, meta: ChangeMeta, maxShadows = DEFAULT_MAX_SHADOWS): RegistryChange[] {
  checkMax(maxShadows);
  const reasons: string[] = [];
  const m = memberOf(roster, member, reasons);
  if (m && op === 'add') {
    needVersion(m, version, reasons);
    if (m.champion === version) reasons.push(`${version} is the champion of ${member}`);
    if (m.shadows.includes(version)) reasons.push(`${version} is already a shadow of ${member}`);
    if (maxShadows === 0) reasons.push('shadows are disabled (maxShadows 0)');
  }
  if (m && op === 'remove' && !m.shadows.includes(version)) reasons.push(`${version} is not a shadow of ${member} (shadows: ${list(m.shadows)})`);
  refuse(`${op === 'add' ? 'add' : 'remove'} shadow ${member} ${version}`, reasons);
  if (op === 'remove') return [change(m!, 'SHADOW_REMOVED', version, { champion: m!.champion, shadows: without(m!.shadows, version) }, meta)];
  const added = change(m!, 'SHADOW_ADDED', version, { champion: m!.champion, shadows: [...m!.shadows, version] }, meta);
  return [added, ...evictions(roster, [added], member, maxShadows, meta)];
}
