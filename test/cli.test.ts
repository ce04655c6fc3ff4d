import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const tmp = mkdtempSync(join(tmpdir(), 'qt-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function qt(args: string[], env: Record<string, string> = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'qt.mjs'), ...args], {
    cwd: ROOT,
    // A registry of the tests' own (bootstrapped from the shipped store), not the checkout's var/registry.
    env: { ...process.env, QT_ENSEMBLE_REGISTRY_DIR: join(tmp, 'registry'), ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('the qt command', () => {
  it('lists every problem of a bad command line at once and exits 2', () => {
    const cfg = join(tmp, 'bad.json');
    writeFileSync(cfg, JSON.stringify({ risk: { confidenceGate: 1.5 }, nonsense: true }));
    const r = qt(['run', '--bogus', '--seed', 'x', '--speed', '-1', '--from', 'soon', '--config', cfg], { QT_BROKER_FEE_BPS: '-3' });
    expect(r.code).toBe(2);
    for (const problem of ['--bogus: unknown flag', 'run.seed', 'run.speed', 'run.from: not a time', 'risk.confidenceGate', 'nonsense', 'broker.feeBps']) {
      expect(r.stderr).toContain(problem);
    }
    expect(r.stdout).toBe('');
  });

  it('qt pipeline: refuses replicas of a stage whose state spans symbols, and a malformed --replica, before connecting', () => {
    for (const [args, problem] of [
      [['ensemble', '--replica', '1/2'], 'ensemble cannot run as several replicas'],
      [['features', '--replica', '2/2'], 'replica 2/2: expects i/n with 0 <= i < n'],
      [['exits', '--replica', '0/13'], 'exits has 12 parts (the partitions of md.bars.1m.v1): at most 12 replicas'],
      [['features', '--replica', 'two'], '--replica: expects i/n'],
    ] as const) {
      const r = qt(['pipeline', ...args, '--bootstrap', '127.0.0.1:1', '--fetch-wait', '0']);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toContain(problem);
      expect(r.stderr, args.join(' ')).toContain('--fetch-wait: expects an integer >= 1');
    }
  });

  it('refuses live trading without the explicit flag', () => {
    const r = qt(['run'], { QT_EXECUTION_VENUE: 'live' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('venue=live needs liveTrading=true');
  });

  it('runs the chain, prints the summary and the journal answers qt sql', () => {
    const journal = join(tmp, 'journal');
    const r = qt(['run', '--days', '0.5', '--symbols', 'BTC/USDT,ETH/USDT', '--seed', '5', '--journal', journal, '--no-metrics', '--no-progress']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const bars = /bars\s+([\d,]+)/.exec(r.stdout)?.[1];
    expect(bars).toBe('1,440'); // 2 symbols x 720 minutes
    for (const label of ['decisions', 'orders', 'fills', 'closed trades', 'PnL', 'max drawdown', 'win rate', 'dead letters', 'journal']) {
      expect(r.stdout).toMatch(new RegExp(`^\\s+${label}\\s+\\S`, 'm'));
    }
    const q = qt(['sql', 'SELECT symbol, count() AS n FROM qt.bars FINAL GROUP BY symbol ORDER BY symbol', '--journal', journal]);
    expect(q.code).toBe(0);
    expect(q.stdout).toMatch(/symbol\s+\|\s+n/);
    expect(q.stdout).toMatch(/BTC\/USDT\s+\|\s+720/);
    expect(q.stdout).toMatch(/ETH\/USDT\s+\|\s+720/);
    expect(q.stdout).toContain('(2 rows)');
  });

  it('stops cleanly on SIGINT: settles, journals what it processed and prints the summary', async () => {
    const journal = join(tmp, 'interrupted');
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'qt.mjs'), 'run', '--days', '1', '--speed', '3600', '--journal', journal, '--metrics-port', '0'], {
      cwd: ROOT,
      env: { ...process.env, QT_ENSEMBLE_REGISTRY_DIR: join(tmp, 'registry') },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const code = await new Promise<number | null>((resolve) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        // first progress line: the replay is under way (a day at 3600x takes 24 s)
        if (/^\s*\d+% /m.test(stderr) && !child.killed) setTimeout(() => child.kill('SIGINT'), 1500);
      });
      child.on('exit', resolve);
    });
    expect(code).toBe(0);
    expect(stderr).toContain('SIGINT: stopping');
    expect(stdout).toContain('Quantum Trader run interrupted');
    const bars = Number(/bars\s+([\d,]+)/.exec(stdout)?.[1]?.replace(/,/g, ''));
    expect(bars).toBeGreaterThan(0);
    expect(bars).toBeLessThan(5 * 1440);
    const q = qt(['sql', 'SELECT count() AS n FROM qt.bars FINAL', '--journal', journal]);
    expect(Number(/\|?\s*(\d+)\s*$/m.exec(q.stdout.split('\n')[2] ?? '')?.[1])).toBe(bars);
  });

  it('reports a bad query with ClickHouse\'s message and exits 1', () => {
    const r = qt(['sql', 'SELECT * FROM qt.nope', '--journal', join(tmp, 'journal')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/JournalQueryError: .*nope/);
  });
});
