import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom, take, toArray } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import type { RegistryEvent } from '../schemas/registry-event.ts';
import { readRegistryLog, registryLogPath, RegistryLogCorruptError, RegistryLogReader, watchRegistry } from './registry-log.ts';

const tmp = mkdtempSync(join(tmpdir(), 'qt-reglog-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => {
  const d = join(tmp, `r${++n}`);
  mkdirSync(d);
  return d;
};

function ev(seq: number, over: Partial<RegistryEvent> = {}): RegistryEvent {
  return {
    id: `reg-${seq}`,
    tsEvent: 1000 * seq,
    tsInit: 1000 * seq,
    seq,
    member: 'xgb',
    action: 'REGISTERED',
    version: `v${seq}`,
    champion: '',
    previousChampion: '',
    shadows: [],
    dir: `models/xgb/v${seq}`,
    actor: 'test',
    reason: 'é: non-ASCII survives a split read',
    ...over,
  };
}
const line = (e: RegistryEvent): string => `${JSON.stringify(e)}\n`;

describe('RegistryLogReader', () => {
  it('returns only new complete lines, and a partial last line once its newline is written', () => {
    const dir = freshDir();
    const file = registryLogPath(dir);
    const r = new RegistryLogReader(file);
    expect(r.poll()).toEqual([]); // no file yet: an empty log
    writeFileSync(file, line(ev(1)) + line(ev(2)));
    expect(r.poll().map((e) => e.seq)).toEqual([1, 2]);
    expect(r.poll()).toEqual([]);
    const third = line(ev(3));
    // Cut inside the multi-byte character: the reader must not decode half of it.
    const cut = Buffer.from(third).indexOf(Buffer.from('é')) + 1;
    appendFileSync(file, Buffer.from(third).subarray(0, cut));
    expect(r.poll()).toEqual([]);
    expect(r.tornBytes).toBe(cut);
    expect(r.lastSeq).toBe(2);
    appendFileSync(file, Buffer.from(third).subarray(cut));
    const got = r.poll();
    expect(got).toEqual([ev(3)]);
    expect(r.tornBytes).toBe(0);
    expect(readRegistryLog(file)).toEqual([ev(1), ev(2), ev(3)]);
  });

  it('refuses a seq gap, a line that is not a RegistryEvent and a log that shrank, naming the line', () => {
    const dir = freshDir();
    const file = registryLogPath(dir);
    writeFileSync(file, line(ev(1)) + line(ev(3)));
    expect(() => readRegistryLog(file)).toThrow(new RegistryLogCorruptError(file, 2, 'seq 3 after 1: the log must count 1, 2, 3... without gaps'));
    writeFileSync(file, `${line(ev(1))}{"seq":2}\n`);
    expect(() => readRegistryLog(file)).toThrow(RegistryLogCorruptError);
    writeFileSync(file, `${line(ev(1))}not json\n`);
    expect(() => readRegistryLog(file)).toThrow(/line 2: not JSON/);
    writeFileSync(file, line(ev(1)) + line(ev(2)));
    const r = new RegistryLogReader(file);
    expect(r.poll()).toHaveLength(2);
    writeFileSync(file, line(ev(1)));
    expect(() => r.poll()).toThrow(/shrank/);
  });
});

describe('watchRegistry', () => {
  it('emits the log at subscribe, then appended events in order, skipping up to afterSeq', async () => {
    const dir = freshDir();
    const file = registryLogPath(dir);
    writeFileSync(file, line(ev(1)) + line(ev(2)));
    const got: number[] = [];
    const done = firstValueFrom(watchRegistry(dir, { pollMs: 5, afterSeq: 1 }).pipe(take(3), toArray()));
    const sub = watchRegistry(dir, { pollMs: 5 }).subscribe((e) => got.push(e.seq));
    expect(got).toEqual([1, 2]); // synchronously on subscribe
    appendFileSync(file, line(ev(3)));
    await new Promise((r) => setTimeout(r, 30));
    appendFileSync(file, line(ev(4)));
    expect((await done).map((e) => e.seq)).toEqual([2, 3, 4]);
    await new Promise((r) => setTimeout(r, 30));
    sub.unsubscribe();
    expect(got).toEqual([1, 2, 3, 4]);
  });

  it('does not emit a torn line until it is completed', async () => {
    const dir = freshDir();
    const file = registryLogPath(dir);
    const got: number[] = [];
    const sub = watchRegistry(dir, { pollMs: 5 }).subscribe((e) => got.push(e.seq));
    const text = line(ev(1));
    appendFileSync(file, text.slice(0, 20));
    await new Promise((r) => setTimeout(r, 40));
    expect(got).toEqual([]);
    appendFileSync(file, text.slice(20));
    await new Promise((r) => setTimeout(r, 40));
    sub.unsubscribe();
    expect(got).toEqual([1]);
  });

  it('errors on a corrupt line', async () => {
    const dir = freshDir();
    writeFileSync(registryLogPath(dir), line(ev(2)));
    await expect(firstValueFrom(watchRegistry(dir, { pollMs: 5 }))).rejects.toBeInstanceOf(RegistryLogCorruptError);
  });
});
