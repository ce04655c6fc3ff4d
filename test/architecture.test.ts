import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const p = join(dir, name);
    if (statSync(join(ROOT, p)).isDirectory()) out.push(...tsFiles(p));
    else if (name.endsWith('.ts') && !name.endsWith('.spec.ts')) out.push(p);
  }
  return out;
}

const IO_CLIENTS = /from\s+['"](kafkajs|chdb|@clickhouse\/client|ccxt|onnxruntime-node|prom-client|pino|winston|node:fs|node:http|node:net|fs|http)['"]/;
const CLOCK_OR_RNG = /Date\.now\(|Math\.random\(|new Date\(\)|performance\.now\(/;

describe('architecture rules (ARCHITECTURE.md §2, §3)', () => {
  const pure = [...tsFiles('operators'), ...tsFiles('schemas')];

  it('finds the pure folders', () => {
    expect(pure.length).toBeGreaterThan(10);
  });

  it('operators/ and schemas/ import no I/O client, logger or file system', () => {
    const offenders = pure.filter((f) => IO_CLIENTS.test(readFileSync(join(ROOT, f), 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('operators/ and schemas/ import nothing of ours outside schemas/ and operators/', () => {
    const offenders: string[] = [];
    for (const f of pure) {
      for (const m of readFileSync(join(ROOT, f), 'utf8').matchAll(/from\s+['"](\.[^'"]+)['"]/g)) {
        const target = relative(ROOT, join(ROOT, f, '..', m[1]!));
        const allowed = f.startsWith('schemas') ? ['schemas', 'deploy/kafka'] : ['schemas', 'operators'];
        if (!allowed.some((a) => target.startsWith(a))) offenders.push(`${f} -> ${target}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('operators and epics read no clock and no unseeded randomness', () => {
    const epics = readdirSync(join(ROOT, 'pipelines'))
      .map((d) => join('pipelines', d, 'epic.ts'))
      .filter((p) => {
        try {
          return statSync(join(ROOT, p)).isFile();
        } catch {
          return false;
        }
      });
    expect(epics.length).toBeGreaterThan(3);
    const offenders = [...tsFiles('operators'), ...epics].filter((f) =>
      readFileSync(join(ROOT, f), 'utf8')
        .split('\n')
        .some((line) => CLOCK_OR_RNG.test(line) && !line.includes('arch-allow: stopwatch')),
    );
    expect(offenders).toEqual([]);
  });
});
