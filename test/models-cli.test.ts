import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelsCli } from '../pipelines/cli/models.ts';
import type { CliIo } from '../pipelines/cli/common.ts';
import { addVersion, copyShippedStore } from '../models/registry/testing/store.ts';
import { readRegistryLog, registryLogPath } from '../sources/registry-log.ts';

const tmp = mkdtempSync(join(tmpdir(), 'qt-models-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const STORE = join(tmp, 'store');
const REGISTRY = join(tmp, 'registry');
const TRAINED = join(tmp, 'trained');
const NOW = Date.parse('2025-07-01T12:00:00Z');

/** Runs `qt models <argv> --registry <tmp> --models <tmp store>` in this process with captured output. */
async function qtModels(argv: string[], registry = REGISTRY): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (append: (s: string) => void) => ({ write: (s: string) => (append(s), true) }) as unknown as NodeJS.WriteStream;
  const io: CliIo = { stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)), env: {}, wallNow: () => 0 };
  const code = await modelsCli([...argv, '--registry', registry, '--models', STORE], io, { now: () => NOW });
  return { code, stdout, stderr };
}

const card = (member: string): { family: string; library: { name: string; version: string }; metrics: { model: { logLoss: number }; baselines: { classPrior: { logLoss: number }; lastReturnSign: { logLoss: number } } } } =>
  JSON.parse(readFileSync(join(STORE, member, 'v1', 'card.json'), 'utf8'));

beforeAll(() => {
  copyShippedStore(STORE);
  // Beside the store, not in it: a new registry takes each member's latest version from the store.
  addVersion(TRAINED, 'xgb', 'v2');
  addVersion(TRAINED, 'xgb', 'v3', (c) => (c.featureSet = 'fs0'));
});

describe('qt models', () => {
  it('list: creates the registry from the store and shows each champion with its card and baselines', async () => {
    const r = await qtModels(['list']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^ member\s+\| champion\s+\| shadows\s+\| history\s+\| family\s+\| library\s+\| log loss\s+\| vs class prior\s+\| vs last sign$/);
    const xgb = card('xgb');
    const row = lines.find((l) => l.startsWith(' xgb '))!;
    const cells = row.split('|').map((c) => c.trim());
    expect(cells).toEqual([
      'xgb',
      'v1',
      '-',
      '-',
      xgb.family,
      `${xgb.library.name} ${xgb.library.version}`,
      xgb.metrics.model.logLoss.toFixed(4),
      xgb.metrics.baselines.classPrior.logLoss.toFixed(4),
      xgb.metrics.baselines.lastReturnSign.logLoss.toFixed(4),
    ]);
    expect(lines.filter((l) => /^ (lgbm|nhits|patchtst|xgb) /.test(l))).toHaveLength(4);
    expect(r.stdout).toContain('(4 rows)');
    expect(r.stdout).toContain(`registry ${registryLogPath(REGISTRY)} (seq 8)`);
    const json = JSON.parse((await qtModels(['list', '--json'])).stdout) as Record<string, unknown>[];
    expect(json.map((m) => [m.member, m.champion, m.shadows, m.history])).toEqual([
      ['lgbm', 'v1', [], []],
      ['nhits', 'v1', [], []],
      ['patchtst', 'v1', [], []],
      ['xgb', 'v1', [], []],
    ]);
    expect(json[3]).toMatchObject({ family: xgb.family, logLoss: xgb.metrics.model.logLoss, dir: join(STORE, 'xgb', 'v1') });
  });

  it('register --shadow, promote, rollback: each prints what changed and appends to the log', async () => {
    const reg = await qtModels(['register', join(TRAINED, 'xgb', 'v2'), '--shadow', '--reason', 'new training']);
    expect(reg.stderr).toBe('');
    expect(reg.code).toBe(0);
    expect(reg.stdout).toBe('#9 xgb: registered v2 (../trained/xgb/v2)\n#10 xgb: shadow v2 added, shadows v2\n');
    const promote = await qtModels(['promote', 'xgb', 'v2', '--reason', 'beats v1']);
    expect(promote.code).toBe(0);
    expect(promote.stdout).toBe('#11 xgb: promoted v2: champion v1 -> v2, shadows v1\n');
    const list = JSON.parse((await qtModels(['list', '--json'])).stdout) as Record<string, unknown>[];
    expect(list[3]).toMatchObject({ member: 'xgb', champion: 'v2', shadows: ['v1'], history: ['v1'], versions: ['v1', 'v2'] });
    const rollback = await qtModels(['rollback', 'xgb']);
    expect(rollback.code).toBe(0);
    expect(rollback.stdout).toBe('#12 xgb: rolled back to v1: champion v2 -> v1, v2 no longer served, shadows -\n');
    const events = readRegistryLog(registryLogPath(REGISTRY));
    expect(events.slice(8).map((e) => [e.seq, e.action, e.version, e.actor, e.reason, e.tsEvent])).toEqual([
      [9, 'REGISTERED', 'v2', 'cli', 'new training', NOW],
      [10, 'SHADOW_ADDED', 'v2', 'cli', 'new training', NOW],
      [11, 'PROMOTED', 'v2', 'cli', 'beats v1', NOW],
      [12, 'ROLLED_BACK', 'v1', 'cli', 'qt models rollback', NOW],
    ]);
  });

  it('shadow add and remove, and history of one member', async () => {
    expect((await qtModels(['shadow', 'add', 'xgb', 'v2'])).stdout).toBe('#13 xgb: shadow v2 added, shadows v2\n');
    expect((await qtModels(['shadow', 'remove', 'xgb', 'v2'])).stdout).toBe('#14 xgb: shadow v2 removed, shadows -\n');
    const h = await qtModels(['history', 'xgb']);
    expect(h.code).toBe(0);
    const rows = h.stdout.split('\n').slice(2).filter((l) => l.includes('|'));
    const shipped = new Date(Date.parse((JSON.parse(readFileSync(join(STORE, 'xgb', 'v1', 'card.json'), 'utf8')) as { createdAt: string }).createdAt)).toISOString().replace('.000Z', 'Z');
    expect(rows.map((l) => l.split('|').map((c) => c.trim()).slice(0, 5))).toEqual([
      ['7', shipped, 'xgb', 'REGISTERED', 'v1'],
      ['8', shipped, 'xgb', 'PROMOTED', 'v1'],
      ['9', '2025-07-01T12:00:00Z', 'xgb', 'REGISTERED', 'v2'],
      ['10', '2025-07-01T12:00:00Z', 'xgb', 'SHADOW_ADDED', 'v2'],
      ['11', '2025-07-01T12:00:00Z', 'xgb', 'PROMOTED', 'v2'],
      ['12', '2025-07-01T12:00:00Z', 'xgb', 'ROLLED_BACK', 'v1'],
      ['13', '2025-07-01T12:00:00Z', 'xgb', 'SHADOW_ADDED', 'v2'],
      ['14', '2025-07-01T12:00:00Z', 'xgb', 'SHADOW_REMOVED', 'v2'],
    ]);
    expect(h.stdout).toContain('(8 rows)');
    const all = JSON.parse((await qtModels(['history', '--json'])).stdout) as { seq: number }[];
    expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 14 }, (_, i) => i + 1));
  });

  it('refuses unknown members and versions, a rollback without history, a bad card and a bad command line: exit 2', async () => {
    const cases: [string[], string][] = [
      [['promote', 'lstm', 'v1'], 'cannot promote lstm v1: member lstm is not in the registry (members: lgbm, nhits, patchtst, xgb)'],
      [['promote', 'xgb', 'v9'], 'cannot promote xgb v9: xgb has no version v9 (registered: v1, v2)'],
      [['promote', 'xgb', 'v1'], 'v1 is already the champion of xgb'],
      [['rollback', 'nhits'], 'cannot roll back nhits: nhits has no former champion to restore (champion v1)'],
      [['shadow', 'remove', 'xgb', 'v2'], 'v2 is not a shadow of xgb'],
      [['register', join(TRAINED, 'xgb', 'v2')], 'xgb v2 is already registered'],
      [['register', join(TRAINED, 'xgb', 'v3')], 'card field featureSet is fs0'],
      [['register', join(tmp, 'nowhere', 'v1')], 'cannot read'],
      [['history', 'lstm'], 'member lstm is not in the registry'],
      [['shadow', 'swap', 'xgb', 'v2'], 'expected add or remove, got swap'],
      [['promote', 'xgb'], 'usage: qt models promote <member> <version>'],
      [['list', '--shadow'], '--shadow does not apply to list'],
      [['list', '--bogus'], '--bogus: unknown flag'],
      [['retire', 'xgb'], 'unknown command retire'],
    ];
    for (const [argv, message] of cases) {
      const r = await qtModels(argv);
      expect({ argv, code: r.code, stdout: r.stdout }).toEqual({ argv, code: 2, stdout: '' });
      expect(r.stderr).toContain(message);
    }
    expect(readRegistryLog(registryLogPath(REGISTRY))).toHaveLength(14);
  });

  it('prints its usage with --help and without a command', async () => {
    const help = await qtModels(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: qt models <command>');
    expect(help.stdout).toContain('--registry <dir>');
    const bare = await modelsCli([], { stdout: process.stdout, stderr: { write: () => true } as unknown as NodeJS.WriteStream, env: {}, wallNow: () => 0 });
    expect(bare).toBe(2);
  });
});
