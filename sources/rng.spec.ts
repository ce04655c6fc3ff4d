import { describe, expect, it } from 'vitest';
import { createRng, deriveSeed } from './rng.ts';

function sample(n: number, f: () => number): { mean: number; variance: number } {
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < n; i++) {
    const x = f();
    sum += x;
    sq += x * x;
  }
  const mean = sum / n;
  return { mean, variance: sq / n - mean * mean };
}

describe('createRng', () => {
  it('matches an independent reference of xoshiro128** seeded by splitmix64', () => {
    // Computed with a separate Python transcription of the reference C code (prng.di.unimi.it), not with this file.
    const r = createRng(42);
    expect(Array.from({ length: 5 }, () => r.nextUint32())).toEqual([1776835114, 4165204688, 17111135, 2317295270, 2792088233]);
    const z = createRng(0);
    expect(Array.from({ length: 3 }, () => z.nextUint32())).toEqual([3737715805, 2584255861, 2876756834]);
    // -1 folds to 2^64 - 1.
    const m = createRng(-1);
    expect(Array.from({ length: 3 }, () => m.nextUint32())).toEqual([477689756, 2493998634, 555695776]);
  });

  it('is deterministic per seed and differs between seeds', () => {
    const a = createRng(7);
    const b = createRng(7);
    const c = createRng(8);
    const xa = Array.from({ length: 100 }, () => a.normal());
    const xb = Array.from({ length: 100 }, () => b.normal());
    const xc = Array.from({ length: 100 }, () => c.normal());
    expect(xa).toEqual(xb);
    expect(xa).not.toEqual(xc);
    expect(createRng('BTC/USDT').next()).toBe(createRng('BTC/USDT').next());
    expect(createRng('BTC/USDT').next()).not.toBe(createRng('ETH/USDT').next());
  });

  it('derives independent seeds from parts, order-sensitive', () => {
    expect(deriveSeed(1, 'a')).toBe(deriveSeed(1, 'a'));
    expect(deriveSeed(1, 'a')).not.toBe(deriveSeed('a', 1));
    expect(deriveSeed(1, 'a')).not.toBe(deriveSeed(1, 'b'));
    expect(deriveSeed(1, 'a') < 1n << 64n).toBe(true);
  });

  it('next() is uniform in [0, 1)', () => {
    const r = createRng(1);
    const bins = new Array<number>(10).fill(0);
    let min = 1;
    let max = 0;
    const n = 200_000;
    for (let i = 0; i < n; i++) {
      const x = r.next();
      min = Math.min(min, x);
      max = Math.max(max, x);
      bins[Math.floor(x * 10)]!++;
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    // Chi-square with 9 degrees of freedom: 27.9 is the 0.999 quantile.
    const chi = bins.reduce((s, b) => s + (b - n / 10) ** 2 / (n / 10), 0);
    expect(chi).toBeLessThan(27.9);
  });

  it('int(n) covers 0..n-1 only', () => {
    const r = createRng(2);
    const seen = new Set<number>();
    for (let i = 0; i < 10_000; i++) seen.add(r.int(6));
    expect([...seen].sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('normal() has mean 0 and variance 1', () => {
    const r = createRng(3);
    const { mean, variance } = sample(200_000, () => r.normal());
    // Standard error of the mean is 1 / sqrt(2e5) = 0.0022.
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(variance - 1)).toBeLessThan(0.02);
  });

  it('exponential(rate) has mean 1/rate and variance 1/rate^2', () => {
    const r = createRng(4);
    const { mean, variance } = sample(200_000, () => r.exponential(4));
    expect(mean).toBeCloseTo(0.25, 2);
    expect(variance).toBeCloseTo(0.0625, 2);
  });

  it.each([0.5, 3, 29, 30, 250])('poisson(%d) has mean and variance lambda', (lambda) => {
    const r = createRng(5);
    const { mean, variance } = sample(100_000, () => r.poisson(lambda));
    // SE of the mean is sqrt(lambda / 1e5); allow 5 of them, and 5% on the variance.
    expect(Math.abs(mean - lambda)).toBeLessThan(5 * Math.sqrt(lambda / 100_000));
    expect(Math.abs(variance / lambda - 1)).toBeLessThan(0.05);
  });

  it('poisson returns non-negative integers and 0 for lambda <= 0', () => {
    const r = createRng(6);
    for (let i = 0; i < 1000; i++) {
      const k = r.poisson(40);
      expect(Number.isInteger(k) && k >= 0).toBe(true);
    }
    expect(r.poisson(0)).toBe(0);
  });

  it('logNormal(mu, sigma) has median exp(mu) and mean exp(mu + sigma^2/2)', () => {
    const r = createRng(7);
    const xs = Array.from({ length: 100_000 }, () => r.logNormal(1, 0.5));
    xs.sort((a, b) => a - b);
    expect(xs[50_000]! / Math.E).toBeCloseTo(1, 1);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean / Math.exp(1 + 0.125)).toBeCloseTo(1, 1);
    expect(xs[0]!).toBeGreaterThan(0);
  });
});
