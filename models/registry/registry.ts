import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FEATURE_NAMES } from '../../operators/features/feature-set.ts';
import type { RegistryEvent } from '../../schemas/registry-event.ts';
import type { ModelCard } from '../card.ts';
import { checkCard, latestVersions, readCard, type LoadOptions } from '../load.ts';
import { RegistryLog, type TimedChange } from './log.ts';
import { resolveArtifactDir, storedArtifactDir } from './paths.ts';
import {
  applyChanges,
  DEFAULT_MAX_SHADOWS,
  EMPTY_ROSTER,
  foldRoster,
  planPromote,
  planRegister,
  planRollback,
  planShadow,
  type ChangeMeta,
  type MemberRoster,
  type RegistryChange,
  type Roster,
} from './roster.ts';

/** Options of Registry.open. */
export interface RegistryOptions {
  /** The shipped store `<member>/<version>/` the log is created from when it does not exist (ensemble.modelsDir). */
  readonly modelsDir: string;
  /** Time of the changes (tsEvent, tsInit), ms since the epoch: Date.now in the CLI, the run's clock elsewhere. */
  readonly now: () => number;
  /** Shadows per member at most (default 2). */
  readonly maxShadows?: number;
  /** Cards are checked against these, in order (default FEATURE_NAMES); see LoadOptions. */
  readonly expected?: Pick<LoadOptions, 'expectedFeatures' | 'expectedFeatureSet' | 'expectedWindow'>;
  /** How long to wait for another process's lock (default 10 s). */
  readonly lockTimeoutMs?: number;
  /** Told about recoveries: a stale lock taken over, a torn last line dropped (default: nothing). */
  readonly onWarning?: (message: string) => void;
}

/** Actor and reason of a change made through the Registry API. */
export type RegistryChangeMeta = ChangeMeta;

/** Folder, under the registry root, of the artifacts trained here: `models/<member>/<version>`. */
export const ARTIFACTS_DIR = 'models';

/** The number in a version name (v12 -> 12), or undefined. */
function versionNumber(v: string): number | undefined {
  const m = /^v(\d+)$/.exec(v);
  return m ? Number(m[1]) : undefined;
}

/**
 * The model registry of one folder: its log `registry.jsonl` (the source of truth, see RegistryLog), the roster folded
 * from it, and the changes, each checked by the roster's rules under the lock and appended as one batch. Every method
 * reads what other processes appended first.
 */
export class Registry {
  private folded: Roster = EMPTY_ROSTER;
  private applied = 0;

  private constructor(
    /** The registry root (absolute). */
    readonly dir: string,
    private readonly log: RegistryLog,
    private readonly opts: RegistryOptions,
  ) {}

  /**
   * Opens the registry at `registryDir`. When its log does not exist (or holds no event), creates it from the shipped
   * store: for each member its latest version, REGISTERED then PROMOTED, actor `bootstrap`, at the card's createdAt
   * (so two fresh registries have identical logs). Cards are checked as by register().
   */
  static async open(registryDir: string, opts: RegistryOptions): Promise<Registry> {
    const dir = resolve(registryDir);
    const log = new RegistryLog(dir, { timeoutMs: opts.lockTimeoutMs, onWarning: opts.onWarning });
    const reg = new Registry(dir, log, opts);
    if (log.events().length === 0) {
      // Read and checked before the lock (hashing model files takes a while); the plan rechecks the log is empty.
      const shipped = latestVersions(opts.modelsDir).map(({ member, dir: artifact }) => ({ member, artifact, card: reg.checkedCard(artifact, member) }));
      await log.append((events) => {
        if (events.length > 0) return [];
        const changes: TimedChange[] = [];
        let roster = EMPTY_ROSTER;
        const meta = { actor: 'bootstrap', reason: `shipped store ${opts.modelsDir}: latest version` };
        for (const { member, artifact, card } of shipped) {
          const ts = Date.parse(card.createdAt);
          if (!Number.isFinite(ts)) throw new TypeError(`card ${artifact}/card.json: createdAt ${card.createdAt} is not a time`);
          const planned = planRegister(roster, member, card.version, storedArtifactDir(dir, artifact), meta, reg.maxShadows);
          roster = applyChanges(roster, planned);
          const promoted = planPromote(roster, member, card.version, meta, reg.maxShadows);
          roster = applyChanges(roster, promoted);
          for (const c of [...planned, ...promoted]) changes.push({ ...c, tsEvent: ts, tsInit: ts });
        }
        return changes;
      });
    }
    return reg;
  }

  private get maxShadows(): number {
    return this.opts.maxShadows ?? DEFAULT_MAX_SHADOWS;
  }

  private checkedCard(artifactDir: string, member?: string): ModelCard {
    const card = readCard(artifactDir);
    checkCard(artifactDir, card, { expectedFeatures: FEATURE_NAMES, ...this.opts.expected, member: member ?? card.member });
    return card;
  }

  /** The log file. */
  get file(): string {
    return this.log.file;
  }

  /** Every event of the log, oldest first. */
  events(): readonly RegistryEvent[] {
    return this.log.events();
  }

  /** The roster now (after what any process appended). */
  roster(): Roster {
    const events = this.log.events();
    if (events.length > this.applied) {
      this.folded = foldRoster(events.slice(this.applied), this.folded);
      this.applied = events.length;
    }
    return this.folded;
  }

  /** One member's roster, undefined when the member is not registered. */
  member(member: string): MemberRoster | undefined {
    return this.roster().members[member];
  }

  /** The absolute artifact folder of a folder as stored in the log (see paths.ts). */
  resolveDir(storedDir: string): string {
    return resolveArtifactDir(this.dir, storedDir);
  }

  /** Where an artifact trained here goes: `<registry>/models/<member>/<version>`. */
  artifactDir(member: string, version: string): string {
    return join(this.dir, ARTIFACTS_DIR, member, version);
  }

  /**
   * The next free version of a member: v<n+1> for the highest n among its registered versions and the folders under
   * artifactDir(member) (a training that crashed before registering keeps its number taken).
   */
  nextVersion(member: string): string {
    const names = Object.keys(this.member(member)?.versions ?? {});
    const folder = join(this.dir, ARTIFACTS_DIR, member);
    if (existsSync(folder)) names.push(...readdirSync(folder));
    const n = names.map(versionNumber).filter((x): x is number => x !== undefined);
    return `v${Math.max(0, ...n) + 1}`;
  }

  /** Appends the changes `plan` makes on the roster as it is under the lock, stamped with now(). */
  private change(plan: (roster: Roster) => readonly RegistryChange[]): Promise<RegistryEvent[]> {
    return this.log.append(() => {
      const ts = this.opts.now();
      return plan(this.roster()).map((c) => ({ ...c, tsEvent: ts, tsInit: ts }));
    });
  }

  /**
   * Registers the artifact folder `<...>/<version>/` (card.json, model.onnx): its card must pass checkCard (member and
   * version from the card, the version is the folder name, features against FEATURE_NAMES, sha256 of the model file);
   * with `shadow`, the version also starts as a shadow; with `member`, the card must be of that member. Refuses a
   * version already registered (RegistryRuleError).
   */
  async register(artifactDir: string, meta: RegistryChangeMeta & { readonly shadow?: boolean; readonly member?: string }): Promise<RegistryEvent[]> {
    const card = this.checkedCard(artifactDir, meta.member);
    const stored = storedArtifactDir(this.dir, artifactDir);
    return this.change((r) => planRegister(r, card.member, card.version, stored, { actor: meta.actor, reason: meta.reason, shadow: meta.shadow }, this.maxShadows));
  }

  /** Makes a registered version the champion; the former champion stays a shadow (see planPromote). */
  promote(member: string, version: string, meta: RegistryChangeMeta): Promise<RegistryEvent[]> {
    return this.change((r) => planPromote(r, member, version, meta, this.maxShadows));
  }

  /** Restores the previous champion in one change; the demoted one stops serving (see planRollback). */
  rollback(member: string, meta: RegistryChangeMeta): Promise<RegistryEvent[]> {
    return this.change((r) => planRollback(r, member, meta));
  }

  /** Starts a registered version as a shadow (see planShadow). */
  addShadow(member: string, version: string, meta: RegistryChangeMeta): Promise<RegistryEvent[]> {
    return this.change((r) => planShadow(r, 'add', member, version, meta, this.maxShadows));
  }

  /** Stops a shadow; its artifact stays registered. */
  removeShadow(member: string, version: string, meta: RegistryChangeMeta): Promise<RegistryEvent[]> {
    return this.change((r) => planShadow(r, 'remove', member, version, meta, this.maxShadows));
  }
}
