import { ModelCardInvalidError, ModelCardMismatchError, ModelStoreError } from '../../models/errors.ts';
import type { ModelCard } from '../../models/card.ts';
import { readCard } from '../../models/load.ts';
import { RegistryRuleError } from '../../models/registry/errors.ts';
import { Registry } from '../../models/registry/registry.ts';
import type { MemberRoster } from '../../models/registry/roster.ts';
import type { RegistryEvent } from '../../schemas/registry-event.ts';
import { formatTable } from '../../sinks/journal/format-table.ts';
import { RegistryLogCorruptError } from '../../sources/registry-log.ts';
import { ConfigError } from '../config.ts';
import { formatFlags, type FlagSpec } from './args.ts';
import { COMMON, configFrom, type CliIo } from './common.ts';

/** The flags of `qt models`. */
const MODELS_FLAGS: readonly FlagSpec[] = [
  { name: 'registry', kind: 'string', path: ['ensemble', 'registryDir'], value: 'dir', help: 'registry folder with registry.jsonl (default ./var/registry)' },
  { name: 'models', kind: 'string', path: ['ensemble', 'modelsDir'], value: 'dir', help: 'shipped model store that seeds a new registry (default models/store)' },
  { name: 'json', kind: 'boolean', help: 'list, history: print JSON instead of a table' },
  { name: 'reason', kind: 'string', value: 'text', help: 'promote, rollback, shadow, register: why (kept in the log)' },
  { name: 'shadow', kind: 'boolean', help: 'register: start the new version as a shadow' },
];

const USAGE = `Usage: qt models <command> [flags]

The model registry: per ensemble member a champion (acts in the vote), shadows (vote into the journal only) and the
registered versions. Its log <registry>/registry.jsonl is the source of truth, created from the shipped store on
first use; a running qt picks up every change.

Commands:
  list                                  members: champion, shadows, former champions, the champion's card and its
                                        out-of-sample log loss against the card's two baselines
  history [member]                      the registry log as a table
  promote <member> <version>            make a registered version the champion; the former champion stays a shadow
  rollback <member>                     restore the previous champion; the demoted one stops serving
  shadow add|remove <member> <version>  start or stop a shadow
  register <dir> [--shadow]             register an artifact folder .../<version>/ (card.json, model.onnx); the card
                                        must match the pipeline's features and the model file's sha256

Flags:
${formatFlags([...MODELS_FLAGS, ...COMMON.filter((f) => f.name !== 'journal')])}
`;

/** Errors that are the user's to fix: message and exit 2. */
const USER_ERRORS = [ConfigError, RegistryRuleError, ModelCardMismatchError, ModelCardInvalidError, ModelStoreError, RegistryLogCorruptError];

/** Flags each command accepts besides --registry, --models, --config, --help. */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  list: ['json'],
  history: ['json'],
  promote: ['reason'],
  rollback: ['reason'],
  shadow: ['reason'],
  register: ['reason', 'shadow'],
};

/** Positionals each command takes: [min, max] after the command name. */
const ARITY: Readonly<Record<string, readonly [number, number, string]>> = {
  list: [0, 0, 'list'],
  history: [0, 1, 'history [member]'],
  promote: [2, 2, 'promote <member> <version>'],
  rollback: [1, 1, 'rollback <member>'],
  shadow: [3, 3, 'shadow add|remove <member> <version>'],
  register: [1, 1, 'register <dir>'],
};

const none = (vs: readonly string[]): string => (vs.length > 0 ? vs.join(',') : '-');
const score = (x: number | undefined): string => (x === undefined ? '-' : x.toFixed(4));
const iso = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');

/** One line saying what an appended event changed. */
export function describeEvent(e: RegistryEvent): string {
  const shadows = `shadows ${none(e.shadows)}`;
  const what = ((): string => {
    switch (e.action) {
      case 'REGISTERED':
        return `registered ${e.version} (${e.dir})`;
      case 'PROMOTED':
        return `promoted ${e.version}: champion ${e.previousChampion || 'none'} -> ${e.champion}, ${shadows}`;
      case 'ROLLED_BACK':
        return `rolled back to ${e.version}: champion ${e.previousChampion || 'none'} -> ${e.champion}, ${e.previousChampion || 'none'} no longer served, ${shadows}`;
      case 'SHADOW_ADDED':
        return `shadow ${e.version} added, ${shadows}`;
      case 'SHADOW_REMOVED':
        return `shadow ${e.version} removed, ${shadows}`;
      default:
        return `${e.action} ${e.version}`;
    }
  })();
  return `#${e.seq} ${e.member}: ${what}`;
}

/** The row of `qt models list` for one member, with what its champion's card says. */
function listRow(reg: Registry, m: MemberRoster): Record<string, unknown> {
  let card: ModelCard | undefined;
  let cardProblem: string | undefined;
  if (m.champion !== null) {
    try {
      card = readCard(reg.resolveDir(m.versions[m.champion]!));
    } catch (e) {
      cardProblem = (e as Error).message;
    }
  }
  const metrics = card?.metrics;
  return {
    member: m.member,
    champion: m.champion,
    shadows: [...m.shadows],
    history: [...m.history],
    versions: Object.keys(m.versions),
    family: card?.family ?? null,
    library: card ? `${card.library.name} ${card.library.version}` : null,
    logLoss: metrics?.model.logLoss ?? null,
    classPriorLogLoss: metrics?.baselines.classPrior.logLoss ?? null,
    lastReturnSignLogLoss: metrics?.baselines.lastReturnSign.logLoss ?? null,
    dir: m.champion === null ? null : reg.resolveDir(m.versions[m.champion]!),
    ...(cardProblem ? { cardProblem } : {}),
  };
}

function listTable(rows: readonly Record<string, unknown>[]): string {
  const cells = rows.map((r) => ({
    member: r.member,
    champion: r.champion ?? '-',
    shadows: none(r.shadows as string[]),
    history: none(r.history as string[]),
    family: r.family ?? (r.cardProblem ? 'card unreadable' : '-'),
    library: r.library ?? '-',
    'log loss': score(r.logLoss as number | undefined),
    'vs class prior': score(r.classPriorLogLoss as number | undefined),
    'vs last sign': score(r.lastReturnSignLogLoss as number | undefined),
  }));
  const num = (name: string) => ({ name, type: 'Float64' });
  return formatTable(cells, ['member', 'champion', 'shadows', 'history', 'family', 'library', num('log loss'), num('vs class prior'), num('vs last sign')], { maxCellWidth: 60 });
}

function historyTable(events: readonly RegistryEvent[]): string {
  const rows = events.map((e) => ({
    seq: e.seq,
    time: iso(e.tsEvent),
    member: e.member,
    action: e.action,
    version: e.version,
    champion: e.champion || '-',
    shadows: none(e.shadows),
    actor: e.actor,
    reason: e.reason,
  }));
  return formatTable(rows, ['seq', 'time', 'member', 'action', 'version', 'champion', 'shadows', 'actor', 'reason'], { maxCellWidth: 80, maxRows: 100_000 });
}

/** Injected into modelsCli by tests. */
export interface ModelsCliDeps {
  /** Time of the changes, ms since the epoch (default Date.now: the registry's events carry wall time). */
  readonly now?: () => number;
}

/**
 * `qt models list|history|promote|rollback|shadow|register`: reads and changes the model registry; returns the exit code
 * (2 for a refused change, an unknown member or version, a bad card or command line).
 */
export async function modelsCli(argv: readonly string[], io: CliIo, deps: ModelsCliDeps = {}): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    (sub === undefined ? io.stderr : io.stdout).write(USAGE);
    return sub === undefined ? 2 : 0;
  }
  if (ARITY[sub] === undefined) {
    io.stderr.write(`qt models: unknown command ${sub} (expected ${Object.keys(ARITY).join(', ')})\n\n${USAGE}`);
    return 2;
  }
  try {
    const { config, positionals, help, own } = configFrom(rest, MODELS_FLAGS, io);
    if (help) {
      io.stdout.write(USAGE);
      return 0;
    }
    const problems: string[] = [];
    for (const flag of ['json', 'reason', 'shadow']) {
      if (own[flag] !== undefined && !ALLOWED[sub]!.includes(flag)) problems.push(`--${flag} does not apply to ${sub}`);
    }
    const [min, max, shape] = ARITY[sub]!;
    if (positionals.length < min || positionals.length > max) problems.push(`usage: qt models ${shape} (got ${positionals.length === 0 ? 'no arguments' : positionals.join(' ')})`);
    if (sub === 'shadow' && positionals[0] !== undefined && !['add', 'remove'].includes(positionals[0])) problems.push(`qt models shadow: expected add or remove, got ${positionals[0]}`);
    if (problems.length > 0) {
      io.stderr.write(`qt models ${sub}: ${problems.join('; ')}\n`);
      return 2;
    }

    const reg = await Registry.open(config.ensemble.registryDir, {
      modelsDir: config.ensemble.modelsDir,
      now: deps.now ?? Date.now,
      onWarning: (msg) => io.stderr.write(`qt models: ${msg}\n`),
    });
    const meta = { actor: 'cli', reason: typeof own.reason === 'string' ? own.reason : `qt models ${sub}` };
    const json = own.json === true;
    let appended: RegistryEvent[];
    switch (sub) {
      case 'list': {
        const roster = reg.roster();
        const rows = Object.keys(roster.members).sort().map((name) => listRow(reg, roster.members[name]!));
        io.stdout.write(json ? `${JSON.stringify(rows, null, 2)}\n` : `${listTable(rows)}\nregistry ${reg.file} (seq ${roster.seq})\n`);
        return 0;
      }
      case 'history': {
        const member = positionals[0];
        if (member !== undefined && reg.member(member) === undefined) {
          throw new RegistryRuleError(`show the history of ${member}`, [`member ${member} is not in the registry (members: ${Object.keys(reg.roster().members).sort().join(', ') || 'none'})`]);
        }
        const events = reg.events().filter((e) => member === undefined || e.member === member);
        io.stdout.write(json ? `${JSON.stringify(events, null, 2)}\n` : `${historyTable(events)}\n`);
        return 0;
      }
      case 'promote':
        appended = await reg.promote(positionals[0]!, positionals[1]!, meta);
        break;
      case 'rollback':
        appended = await reg.rollback(positionals[0]!, meta);
        break;
      case 'shadow':
        appended = positionals[0] === 'add' ? await reg.addShadow(positionals[1]!, positionals[2]!, meta) : await reg.removeShadow(positionals[1]!, positionals[2]!, meta);
        break;
      default:
        appended = await reg.register(positionals[0]!, { ...meta, shadow: own.shadow === true });
        break;
    }
    io.stdout.write(`${appended.map(describeEvent).join('\n')}\n`);
    return 0;
  } catch (e) {
    if (USER_ERRORS.some((k) => e instanceof k)) {
      io.stderr.write(`qt models ${sub}: ${(e as Error).message}\n`);
      return 2;
    }
    throw e;
  }
}
