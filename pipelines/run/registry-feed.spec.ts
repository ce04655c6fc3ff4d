import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { map } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { stampChange } from '../../models/registry/log.ts';
import { Registry } from '../../models/registry/registry.ts';
import { rosterOf, type Roster } from '../../models/registry/roster.ts';
import { addVersion, copyShippedStore } from '../../models/registry/testing/store.ts';
import { registryLogPath } from '../../sources/registry-log.ts';
import { MemoryBus } from '../../sources/memory-bus.ts';
import { startRegistryFeed } from './registry-feed.ts';

const tmp = mkdtempSync(join(tmpdir(), 'qt-regfeed-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const STORE = copyShippedStore(join(tmp, 'store'), ['lgbm', 'xgb']);
let n = 0;
const freshDir = (): string => join(tmp, `reg${++n}`);
const CLI = { actor: 'cli', reason: 'test' };
const open = (dir: string): Promise<Registry> => Registry.open(dir, { modelsDir: STORE, now: () => 1_750_000_000_000 });
const newBus = (): MemoryBus => new MemoryBus({ clock: { now: () => 0 } });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const published = (bus: MemoryBus): string[] => bus.records('model.registry.v1').map((r) => `${r.key} ${r.value.seq} ${r.value.action} ${r.value.version}`);

describe('startRegistryFeed', () => {
  it('publishes the log at start, then each event another process appends, once, keyed by member', async () => {
    const reg = await open(freshDir());
    const bus = newBus();
    const rosters: Roster[] = [];
    bus.consume('model.registry.v1', 'serving', { from: 'earliest' }).pipe(map((r) => r.value), rosterOf()).subscribe((r) => rosters.push(r));
    const feed = startRegistryFeed(bus, reg.dir, { pollMs: 5 });
    await feed.published;
    expect(published(bus)).toEqual(['lgbm 1 REGISTERED v1', 'lgbm 2 PROMOTED v1', 'xgb 3 REGISTERED v1', 'xgb 4 PROMOTED v1']);

    const other = await open(reg.dir);
    await other.register(addVersion(join(reg.dir, 'models'), 'xgb', 'v2'), { ...CLI, shadow: true });
    await other.promote('xgb', 'v2', CLI);
    await sleep(50);
    expect(published(bus).slice(4)).toEqual(['xgb 5 REGISTERED v2', 'xgb 6 SHADOW_ADDED v2', 'xgb 7 PROMOTED v2']);
    // The bus carries the log as it is: the roster folded from the topic is the registry's.
    expect(rosters.at(-1)).toEqual(reg.roster());

    feed.stop();
    await other.rollback('xgb', CLI);
    await sleep(30);
    expect(bus.records('model.registry.v1')).toHaveLength(7);
    await bus.close();
  });

  it('publishes a line written in two parts only when it is complete', async () => {
    const reg = await open(freshDir());
    const bus = newBus();
    const feed = startRegistryFeed(bus, reg.dir, { pollMs: 5 });
    await feed.published;
    // Written by hand (an OTHER event changes nothing): the feed forwards the log's lines, it does not judge them.
    const line = `${JSON.stringify(stampChange({ member: 'xgb', action: 'OTHER', version: 'v1', champion: 'v1', previousChampion: 'v1', shadows: [], dir: '', actor: 'test', reason: 'torn', tsEvent: 1, tsInit: 1 }, 5))}\n`;
    appendFileSync(reg.file, line.slice(0, 40));
    await sleep(40);
    expect(bus.records('model.registry.v1')).toHaveLength(4);
    appendFileSync(reg.file, line.slice(40));
    await sleep(40);
    expect(published(bus).at(-1)).toBe('xgb 5 OTHER v1');
    feed.stop();
    await bus.close();
  });

  it('waits for a log that does not exist yet, and rejects `published` for a corrupt one', async () => {
    const dir = freshDir();
    const bus = newBus();
    const feed = startRegistryFeed(bus, dir, { pollMs: 5 });
    await feed.published;
    expect(bus.records('model.registry.v1')).toHaveLength(0);
    await open(dir);
    await sleep(40);
    expect(bus.records('model.registry.v1')).toHaveLength(4);
    feed.stop();

    const bad = freshDir();
    mkdirSync(bad);
    writeFileSync(registryLogPath(bad), '{"seq": 1}\n');
    await expect(startRegistryFeed(bus, bad).published).rejects.toMatchObject({ name: 'RegistryLogCorruptError', line: 1 });
    await bus.close();
  });
});
