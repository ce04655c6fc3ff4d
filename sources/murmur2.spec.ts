import { describe, expect, it } from 'vitest';
import { kafkaPartition, murmur2, toPositive } from './murmur2.ts';

describe('murmur2 (Kafka Utils.murmur2)', () => {
  // Vectors of Apache Kafka's UtilsTest.testMurmur2 (quoted identically by kafka-python, franz-go, rdkafka ports), plus
  // the empty input, which exercises the seed and the final mix only.
  it.each([
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
    ['', 275646681],
  ])('hashes %j like the Java client', (input, expected) => {
    expect(murmur2(input)).toBe(expected);
    expect(murmur2(Buffer.from(input, 'utf8'))).toBe(expected);
  });

  it('hashes the UTF-8 bytes of a string, not its UTF-16 code units', () => {
    // 'é' is 2 bytes in UTF-8 (0xC3 0xA9): the string and those bytes must hash alike, and differ from Latin-1's 1 byte.
    expect(murmur2('é')).toBe(murmur2(new Uint8Array([0xc3, 0xa9])));
    expect(murmur2('é')).not.toBe(murmur2(new Uint8Array([0xe9])));
  });
});

describe('toPositive', () => {
  it('clears the sign bit like Kafka Utils.toPositive', () => {
    expect(toPositive(-790332482)).toBe(2 ** 31 - 790332482);
    expect(toPositive(-(2 ** 31))).toBe(0);
    expect(toPositive(-1)).toBe(2 ** 31 - 1);
    expect(toPositive(479470107)).toBe(479470107);
  });
});

describe('kafkaPartition', () => {
  it('is toPositive(murmur2) modulo the partition count (hand-checked)', () => {
    // toPositive(-790332482) = 1357151166; 1357151166 % 10 = 6, % 50 = 16, % 12 = 6 (12 * 113095930 = 1357151160).
    expect(kafkaPartition('foobar', 10)).toBe(6);
    expect(kafkaPartition('foobar', 50)).toBe(16);
    expect(kafkaPartition('foobar', 12)).toBe(6);
    expect(kafkaPartition('anything', 1)).toBe(0);
  });

  it('places our bus keys where Kafka does', () => {
    // Expected values from an independent Python big-integer implementation of the Java algorithm, which reproduces
    // every UtilsTest vector above: binance:BTC/USDT -> -262060603, binance:ETH/USDT -> 1981580599,
    // binance:SOL/USDT -> 969591620, paper -> -382923083, okx:€uro/ü -> -2102775192.
    expect(murmur2('binance:BTC/USDT')).toBe(-262060603);
    expect(kafkaPartition('binance:BTC/USDT', 12)).toBe(1);
    expect(kafkaPartition('binance:BTC/USDT', 6)).toBe(1);
    expect(kafkaPartition('binance:ETH/USDT', 12)).toBe(7);
    expect(kafkaPartition('binance:SOL/USDT', 12)).toBe(8);
    expect(kafkaPartition('binance:SOL/USDT', 6)).toBe(2);
    expect(kafkaPartition('paper', 6)).toBe(3);
    expect(kafkaPartition('okx:€uro/ü', 12)).toBe(8);
  });

  it('refuses a partition count that is not a positive integer', () => {
    expect(() => kafkaPartition('k', 0)).toThrow(RangeError);
    expect(() => kafkaPartition('k', 1.5)).toThrow(RangeError);
  });
});
