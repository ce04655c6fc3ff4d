import { describe, expect, it } from 'vitest';
import type { Journal } from '../../schemas/ports.ts';
import { runSql } from './sql.ts';

/** A journal with only the port's methods: runSql falls back to row keys for the columns. */
const plain = (rows: Record<string, unknown>[], seen: string[] = []): Journal => ({
  init: async () => undefined,
  write: async () => undefined,
  flush: async () => undefined,
  close: async () => undefined,
  query: async <R>(sql: string) => {
    seen.push(sql);
    return rows as R[];
  },
});

describe('runSql', () => {
  it('formats the rows of a plain Journal, taking columns in order of first appearance', async () => {
    const seen: string[] = [];
    const text = await runSql(plain([{ a: 1 }, { a: 22, b: 'x' }], seen), 'SELECT a, b FROM t');
    expect(text).toBe(['  a | b', '----+------', '  1 | NULL', ' 22 | x', '(2 rows)'].join('\n'));
    expect(seen).toEqual(['SELECT a, b FROM t']);
  });

  it('passes the formatting options on', async () => {
    expect(await runSql(plain([{ n: 1 }, { n: 2 }, { n: 3 }]), 'SELECT n', { maxRows: 1 })).toBe([' n', '---', ' 1', '(3 rows, first 1 shown)'].join('\n'));
  });
});
