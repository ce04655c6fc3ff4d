import { describe, expect, it } from 'vitest';
import { BinaryWriter, encoderFor, rowsEncoderFor, Unencodable } from './row-binary.ts';

const hex = (type: string, v: unknown): string => {
  const w = new BinaryWriter(4);
  encoderFor(type)!(w, v);
  return w.bytes().toString('hex');
};
const refuses = (type: string, v: unknown): void => {
  expect(() => encoderFor(type)!(new BinaryWriter(), v), `${type} ${String(v)}`).toThrow(Unencodable);
};

describe('RowBinary encoding', () => {
  it('writes strings as UTF-8 with a LEB128 length, short ASCII and anything else alike', () => {
    expect(hex('String', 'ab')).toBe('026162');
    expect(hex('String', '')).toBe('00');
    expect(hex('String', 'é')).toBe('02c3a9');
    expect(hex('String', '😀')).toBe('04f09f9880');
    expect(hex('String', 'a\u0000"\n')).toBe('046100220a');
    const long = 'x'.repeat(200);
    expect(hex('String', long)).toBe(`c801${'78'.repeat(200)}`);
    expect(hex('LowCardinality(String)', 'BTC/USDT')).toBe(hex('String', 'BTC/USDT'));
  });

  it('writes Nullable with its null flag, also inside LowCardinality', () => {
    expect(hex('Nullable(String)', null)).toBe('01');
    expect(hex('Nullable(String)', 'x')).toBe('000178');
    expect(hex('LowCardinality(Nullable(String))', null)).toBe('01');
    expect(hex('Nullable(Float64)', 1)).toBe('00000000000000f03f');
  });

  it('writes doubles as the JSON insert stores them: +0 for -0, canonical NaN, infinities from the quoted strings', () => {
    expect(hex('Float64', 1.5)).toBe('000000000000f83f');
    expect(hex('Float64', -0)).toBe('0000000000000000');
    expect(hex('Float64', 'nan')).toBe('000000000000f87f');
    expect(hex('Float64', 'inf')).toBe('000000000000f07f');
    expect(hex('Float64', '-inf')).toBe('000000000000f0ff');
    expect(hex('Array(Float64)', [1.5, -0, 'nan'])).toBe('03000000000000f83f0000000000000000000000000000f87f');
    expect(hex('Array(Float64)', [])).toBe('00');
    expect(hex('Array(LowCardinality(String))', ['a', 'bc'])).toBe('0201610262' + '63');
  });

  it('writes integers and times exactly, negative and beyond 2^53 included', () => {
    expect(hex('Int64', -1)).toBe('ffffffffffffffff');
    expect(hex('Int64', 2 ** 40 + 3)).toBe('0300000000010000');
    // Beyond 2^53, the integer JSON prints (and the JSON insert stores): 2^60 prints as 1152921504606847000.
    expect(hex('Int64', 2 ** 60)).toBe(Buffer.from(new BigInt64Array([1_152_921_504_606_847_000n]).buffer).toString('hex'));
    expect(hex('Int64', -(2 ** 62))).toBe(Buffer.from(new BigInt64Array([-4_611_686_018_427_388_000n]).buffer).toString('hex'));
    expect(hex("DateTime64(3, 'UTC')", 1_738_367_940_000)).toBe(Buffer.from(new BigInt64Array([1_738_367_940_000n]).buffer).toString('hex'));
    expect(hex('DateTime64(3)', -5)).toBe('fbffffffffffffff');
    expect(hex('Int32', -2)).toBe('feffffff');
    expect(hex('UInt16', 258)).toBe('0201');
    expect(hex('Bool', true)).toBe('01');
    expect(hex('Bool', false)).toBe('00');
  });

  it('refuses what it could store differently from the JSON insert', () => {
    refuses('String', 'a\ud800b');
    refuses('String', `${'é'.repeat(200)}\udc00`);
    refuses('String', 12);
    refuses('String', null);
    refuses('Float64', 'NaN');
    // A bare non-finite number prints as JSON null: rows.ts quotes them, and the binary form leaves anything else to JSON.
    refuses('Float64', NaN);
    refuses('Nullable(Float64)', Infinity);
    refuses('Array(Float64)', [1, NaN]);
    refuses('Float64', true);
    refuses('Float64', null);
    refuses('Int64', 1.5);
    refuses('Int64', 2 ** 63);
    refuses('Int64', 1e21);
    refuses("DateTime64(3, 'UTC')", 1.5);
    refuses("DateTime64(3, 'UTC')", 2 ** 60);
    refuses('Int32', 2 ** 31);
    refuses('UInt16', -1);
    refuses('Bool', 1);
    refuses('Array(Float64)', 'x');
    refuses('Array(Float64)', [1, 'x']);
    refuses('Array(String)', null);
  });

  it('has no encoder for a type the journal does not use, and no rows encoder for a table with one', () => {
    expect(encoderFor('Decimal(10, 2)')).toBeUndefined();
    expect(encoderFor('Map(String, String)')).toBeUndefined();
    expect(encoderFor('Array(UUID)')).toBeUndefined();
    expect(rowsEncoderFor(['String', 'UUID'])).toBeUndefined();
  });

  it('encodes rows column by column, refuses a row of the wrong width, and grows its buffer', () => {
    const encode = rowsEncoderFor(['String', 'Int32', 'Array(Float64)'])!;
    const w = new BinaryWriter(1);
    encode([['a', 1, [2]], ['b', 2, []]], w);
    expect(w.bytes().toString('hex')).toBe('016101000000010000000000000040' + '016202000000' + '00');
    expect(() => encode([['a', 1]], new BinaryWriter())).toThrow(Unencodable);
    const big = new BinaryWriter(8);
    encode(Array.from({ length: 1000 }, (_, i) => [`r${i}`, i, [i, i + 0.5]]), big);
    expect(big.pos).toBeGreaterThan(20_000);
  });
});
