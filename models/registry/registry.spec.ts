import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deriveId } from '../../schemas/ids.ts';
import type { RegistryEvent } from '../../schemas/registry-event.ts';
import { readRegistryLog, watchRegistry } from '../../sources/registry-log.ts';
import { ModelCardMismatchError, ModelStoreError } from '../errors.ts';
import { RegistryLockError, RegistryRuleError } from './errors.ts';
import { RegistryLog, type TimedChange } from './log.ts';
import { resolveArtifactDir, storedArtifactDir } from './paths.ts';
import { Registry } from './registry.ts';
import { addVersion, copyShippedStore, SHIPPED_STORE } from './testing/store.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'qt-registry-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const STORE = copyShippedStore(join(tmp, 'store'), ['lgbm', 'xgb']);
let n = 0;
const freshDir = (): string => join(tmp, `reg${++n}`);
const CLI = { actor: 'cli', reason: 'test' };
const createdAt = (member: string): number => Date.parse(JSON.parse(readFileSync(join(SHIPPED_STORE, member, 'v1', 'card.json'), 'utf8')).createdAt);

/** A registry over the two-member store, with a clock the test moves. */
async function open(dir = freshDir(), warnings: string[] = [], opts: { lockTimeoutMs?: number } = {}): Promise<Registry> {
  let t = 1_750_000_000_000;
  return Registry.open(dir, { modelsDir: STORE, now: () => (t += 1000), onWarning: (m) => warnings.push(m), ...opts });
}

/** A raw change for the log-level tests: registers version `n<seq>` as the planner saw the log. */
const numbered = (events: readonly RegistryEvent[], who: string): TimedChange[] => [
  { member: 'm', action: 'REGISTERED', version: `n${events.length + 1}`, champion: '', previousChampion: '', shadows: [], dir: who, actor: who, reason: '', tsEvent: 0, tsInit: 0 },
];

describe('Registry.open', () => {
  it('creates the log from the shipped store: REGISTERED then PROMOTED per member at the card time, dirs relative', async () => {
    const reg = await open();
    const events = reg.events();
    expect(events.map((e) => [e.seq, e.member, e.action, e.version, e.champion, e.actor])).toEqual([
      [1, 'lgbm', 'REGISTERED', 'v1', '', 'bootstrap'],
      [2, 'lgbm', 'PROMOTED', 'v1', 'v1', 'bootstrap'],
      [3, 'xgb', 'REGISTERED', 'v1', '', 'bootstrap'],
      [4, 'xgb', 'PROMOTED', 'v1', 'v1', 'bootstrap'],
    ]);
    expect(events.map((e) => e.id)).toEqual([1, 2, 3, 4].map((s) => deriveId('reg', s)));
    expect(events[3]).toMatchObject({ tsEvent: createdAt('xgb'), tsInit: createdAt('xgb'), dir: '../store/xgb/v1' });
    expect(reg.resolveDir(events[3]!.dir)).toBe(join(STORE, 'xgb', 'v1'));
    expect(reg.roster().members.xgb).toMatchObject({ champion: 'v1', shadows: [], history: [], versions: { v1: '../store/xgb/v1' } });
  });

  it('gives two fresh registries byte-identical logs, and does not bootstrap an existing log again', async () => {
    const a = await open();
    const b = await open();
    expect(readFileSync(b.file, 'utf8')).toBe(readFileSync(a.file, 'utf8'));
    const again = await open(a.dir);
    expect(again.events()).toHaveLength(4);
  });

  it('refuses to bootstrap from a store that does not exist', async () => {
    await expect(Registry.open(freshDir(), { modelsDir: join(tmp, 'nowhere'), now: () => 0 })).rejects.toBeInstanceOf(ModelStoreError);
  });
});

describe('Registry changes', () => {
  it('registers a checked artifact, promotes it, and rolls back in one call', async () => {
    const reg = await open();
    const v2 = addVersion(join(reg.dir, 'models'), 'xgb', 'v2');
    const reg1 = await reg.register(v2, { ...CLI, shadow: true });
    expect(reg1.map((e) => [e.seq, e.action, e.version, e.shadows, e.dir])).toEqual([
      [5, 'REGISTERED', 'v2', [], 'models/xgb/v2'],
      [6, 'SHADOW_ADDED', 'v2', ['v2'], 'models/xgb/v2'],
    ]);
    expect(reg1[0]).toMatchObject({ tsEvent: 1_750_000_001_000, tsInit: 1_750_000_001_000, actor: 'cli', reason: 'test' });
    const p = await reg.promote('xgb', 'v2', { actor: 'learning', reason: 'better' });
    expect(p).toEqual([expect.objectContaining({ seq: 7, action: 'PROMOTED', version: 'v2', champion: 'v2', previousChampion: 'v1', shadows: ['v1'] })]);
    expect(reg.member('xgb')).toMatchObject({ champion: 'v2', shadows: ['v1'], history: ['v1'] });
    const b = await reg.rollback('xgb', CLI);
    expect(b).toEqual([expect.objectContaining({ seq: 8, action: 'ROLLED_BACK', version: 'v1', champion: 'v1', previousChampion: 'v2', shadows: [] })]);
    // What was appended is what the log holds, and another reader folds the same roster.
    expect(readRegistryLog(reg.file)).toEqual(reg.events());
    expect((await open(reg.dir)).roster()).toEqual(reg.roster());
    await expect(reg.rollback('xgb', CLI)).rejects.toThrow('cannot roll back xgb: xgb has no former champion to restore (champion v1)');
    await expect(reg.register(v2, CLI)).rejects.toBeInstanceOf(RegistryRuleError);
    expect(reg.events()).toHaveLength(8);
  });

  it('refuses a card that does not match the pipeline, or whose model file is not the one it hashes', async () => {
    const reg = await open();
    const other = addVersion(join(reg.dir, 'models'), 'xgb', 'v3', (c) => (c.features = ['close']));
    await expect(reg.register(other, CLI)).rejects.toMatchObject({ name: 'ModelCardMismatchError', field: 'features' });
    const tampered = addVersion(join(reg.dir, 'models'), 'xgb', 'v4');
    appendFileSync(join(tampered, 'model.onnx'), 'x');
    await expect(reg.register(tampered, CLI)).rejects.toMatchObject({ field: 'onnx.sha256' });
    const renamed = addVersion(join(reg.dir, 'models'), 'xgb', 'v5', (c) => (c.version = 'v6'));
    await expect(reg.register(renamed, CLI)).rejects.toBeInstanceOf(ModelCardMismatchError);
    const good = addVersion(join(reg.dir, 'models'), 'xgb', 'v7');
    await expect(reg.register(good, { ...CLI, member: 'lgbm' })).rejects.toMatchObject({ field: 'member', expected: 'lgbm', actual: 'xgb' });
    expect(reg.events()).toHaveLength(4);
  });

  it('gives the next version and the artifact folder of a training', async () => {
    const reg = await open();
    expect(reg.nextVersion('xgb')).toBe('v2');
    expect(reg.nextVersion('tft')).toBe('v1');
    expect(reg.artifactDir('xgb', 'v2')).toBe(join(reg.dir, 'models', 'xgb', 'v2'));
    // A folder left by a training that never registered keeps its number taken.
    mkdirSync(reg.artifactDir('xgb', 'v7'), { recursive: true });
    expect(reg.nextVersion('xgb')).toBe('v8');
  });
});

describe('the registry log protocol', () => {
  it('stores folders relative to the registry root and resolves them back', () => {
    expect(storedArtifactDir('/a/var/registry', '/a/models/store/xgb/v1')).toBe('../../models/store/xgb/v1');
    expect(storedArtifactDir('/a/reg', '/a/reg/models/xgb/v2')).toBe('models/xgb/v2');
    expect(resolveArtifactDir('/a/var/registry', '../../models/store/xgb/v1')).toBe('/a/models/store/xgb/v1');
    expect(resolveArtifactDir('/a/reg', '/elsewhere/xgb/v1')).toBe('/elsewhere/xgb/v1');
  });

  it('two instances appending at once never reuse a seq, and each plans on the latest log', async () => {
    const dir = freshDir();
    const a = new RegistryLog(dir);
    const b = new RegistryLog(dir);
    await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).append((evs) => numbered(evs, i % 2 ? 'a' : 'b'))));
    const events = readRegistryLog(a.file);
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(events.map((e) => e.version)).toEqual(events.map((e) => `n${e.seq}`));
    expect(new Set(events.map((e) => e.actor))).toEqual(new Set(['a', 'b']));
    expect(existsSync(a.lockFile)).toBe(false);
  });

  it('two processes appending at once never interleave lines or reuse a seq', async () => {
    const dir = freshDir();
    const script = join(tmp, 'appender.mts');
    writeFileSync(
      script,
      `import { RegistryLog } from ${JSON.stringify(join(ROOT, 'models', 'registry', 'log.ts'))};
const log = new RegistryLog(process.argv[2]);
for (let i = 0; i < 15; i++) {
  await log.append((evs) => [{ member: 'm', action: 'REGISTERED', version: 'n' + (evs.length + 1), champion: '', previousChampion: '', shadows: [], dir: 'child', actor: 'child', reason: 'x'.repeat(3000), tsEvent: 0, tsInit: 0 }]);
  await new Promise((r) => setTimeout(r, 20));
}
`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script, dir], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', r));
    const log = new RegistryLog(dir);
    // Start once the child appends (tsx takes a while to start), then append until it has finished.
    let childDone = false;
    void exited.then(() => (childDone = true));
    while (!childDone && !log.events().some((e) => e.actor === 'child')) await new Promise((r) => setTimeout(r, 5));
    let mine = 0;
    while (!childDone) {
      await log.append((evs) => numbered(evs, 'parent'));
      mine++;
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(await exited).toBe(0);
    expect(stderr).toBe('');
    const events = readRegistryLog(log.file);
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: mine + 15 }, (_, i) => i + 1));
    expect(events.map((e) => e.version)).toEqual(events.map((e) => `n${e.seq}`));
    expect(events.filter((e) => e.actor === 'child')).toHaveLength(15);
    // The two ran at the same time: parent appends between the child's first and last (how many depends on the load).
    const firstChild = events.findIndex((e) => e.actor === 'child');
    const lastChild = events.map((e) => e.actor).lastIndexOf('child');
    expect(events.slice(firstChild, lastChild).filter((e) => e.actor === 'parent').length).toBeGreaterThan(0);
  }, 60_000);

  it('takes over the lock of a dead process with a warning, and waits for a live one', async () => {
    const dir = freshDir();
    const warnings: string[] = [];
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    const log = new RegistryLog(dir, { onWarning: (m) => warnings.push(m), timeoutMs: 150 });
    mkdirSync(dir, { recursive: true });
    writeFileSync(log.lockFile, JSON.stringify({ pid: dead, host: hostname() }));
    expect(await log.append((evs) => numbered(evs, 'x'))).toHaveLength(1);
    expect(warnings).toEqual([`registry lock ${log.lockFile} held by pid ${dead}, which is not running: taken over`]);
    expect(existsSync(log.lockFile)).toBe(false);
    // A live holder (this very process, another token): the append waits, then gives up, retriable.
    writeFileSync(log.lockFile, JSON.stringify({ pid: process.pid, host: hostname(), token: 'other' }));
    const e = await log.append((evs) => numbered(evs, 'x')).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(RegistryLockError);
    expect(e).toMatchObject({ retriable: true, holder: `pid ${process.pid} on ${hostname()}` });
    expect(readRegistryLog(log.file)).toHaveLength(1);
    rmSync(log.lockFile);
  });

  it('ignores a torn last line when reading, and truncates it before the next append', async () => {
    const warnings: string[] = [];
    const reg = await open(freshDir(), warnings);
    appendFileSync(reg.file, '{"id":"reg-x","tsEvent":1,"ts');
    expect(readRegistryLog(reg.file)).toHaveLength(4);
    const again = await open(reg.dir, warnings);
    expect(again.events()).toHaveLength(4);
    const v2 = addVersion(join(reg.dir, 'models'), 'xgb', 'v2');
    const appended = await again.register(v2, CLI);
    expect(appended.map((e) => e.seq)).toEqual([5]);
    expect(warnings).toEqual([expect.stringMatching(/dropped a torn last line of 29 bytes/)]);
    expect(readRegistryLog(reg.file).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(readFileSync(reg.file, 'utf8').endsWith('\n')).toBe(true);
  });

  it('a watcher gets what another Registry instance appends, in order, exactly once', async () => {
    const reg = await open();
    const got: RegistryEvent[] = [];
    const sub = watchRegistry(reg.dir, { pollMs: 5, afterSeq: 2 }).subscribe((e) => got.push(e));
    const other = await open(reg.dir);
    const v2 = addVersion(join(reg.dir, 'models'), 'xgb', 'v2');
    await other.register(v2, { ...CLI, shadow: true });
    await new Promise((r) => setTimeout(r, 20));
    await other.promote('xgb', 'v2', CLI);
    await reg.rollback('xgb', CLI);
    await new Promise((r) => setTimeout(r, 50));
    sub.unsubscribe();
    expect(got.map((e) => `${e.seq} ${e.action}`)).toEqual(['3 REGISTERED', '4 PROMOTED', '5 REGISTERED', '6 SHADOW_ADDED', '7 PROMOTED', '8 ROLLED_BACK']);
    expect(got).toEqual(reg.events().slice(2));
  });
});
