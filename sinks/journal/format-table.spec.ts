import { describe, expect, it } from 'vitest';
import { formatTable } from './format-table.ts';

describe('formatTable', () => {
  it('aligns text left and numbers right under a header and a rule, with a row count', () => {
    const rows = [
      { symbol: 'BTC/USDT', trades: 12, pnl: 103.25 },
      { symbol: 'ETH/USDT', trades: 3, pnl: -7.5 },
    ];
    expect(formatTable(rows, ['symbol', 'trades', 'pnl'])).toBe(
      [
        ' symbol   | trades |    pnl',
        '----------+--------+--------',
        ' BTC/USDT |     12 | 103.25',
        ' ETH/USDT |      3 |   -7.5',
        '(2 rows)',
      ].join('\n'),
    );
  });

  it('uses column types when given: a numeric type is right-aligned even when values are strings', () => {
    const rows = [{ id: 'a', big: '18446744073709551615' }, { id: 'b', big: '7' }];
    expect(formatTable(rows, [{ name: 'id', type: 'String' }, { name: 'big', type: 'UInt64' }])).toBe(
      [' id |                  big', '----+----------------------', ' a  | 18446744073709551615', ' b  |                    7', '(2 rows)'].join('\n'),
    );
  });

  it('shows NULL, nan/inf, arrays, and escapes control characters', () => {
    const rows = [{ a: null, b: NaN, c: [1, -Infinity, 'x\'y'], d: 'two\nlines\tand tab' }];
    expect(formatTable(rows, ['a', 'b', 'c', 'd'])).toBe(
      [
        ' a    |   b | c               | d',
        '------+-----+-----------------+---------------------',
        " NULL | nan | [1,-inf,'x\\'y'] | two\\nlines\\tand tab",
        '(1 row)',
      ].join('\n'),
    );
  });

  it('truncates long cells with an ellipsis, counting characters rather than UTF-16 units', () => {
    const out = formatTable([{ s: 'αβγδεζηθικλμ' }, { s: '😀😀😀😀😀😀' }], ['s'], { maxCellWidth: 5 });
    expect(out.split('\n')).toEqual([' s', '-------', ' αβγδ…', ' 😀😀😀😀…', '(2 rows)']);
  });

  it('renders at most maxRows rows and says how many there were', () => {
    const rows = Array.from({ length: 5 }, (_, i) => ({ i }));
    expect(formatTable(rows, ['i'], { maxRows: 2 })).toBe([' i', '---', ' 0', ' 1', '(5 rows, first 2 shown)'].join('\n'));
  });

  it('renders an empty result as its header and (0 rows), and no columns as just the count', () => {
    expect(formatTable([], [{ name: 'n', type: 'UInt64' }])).toBe([' n', '---', '(0 rows)'].join('\n'));
    expect(formatTable([], [])).toBe('(0 rows)');
  });
});
