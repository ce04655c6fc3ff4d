import { describe, expect, it } from 'vitest';
import { DEFAULT_REGIME_PARAMS, RegimeChain, regimeModel, REGIMES, SyntheticMarketConfigError } from './synthetic-regimes.ts';

const uniform = {
  calm: { calm: 0, 'trend-up': 1, 'trend-down': 1, volatile: 1 },
  'trend-up': { calm: 1, 'trend-up': 0, 'trend-down': 1, volatile: 1 },
  'trend-down': { calm: 1, 'trend-up': 1, 'trend-down': 0, volatile: 1 },
  volatile: { calm: 1, 'trend-up': 1, 'trend-down': 1, volatile: 0 },
};

describe('regimeModel', () => {
  it('shares time in proportion to mean durations when every switch is equally likely', () => {
    // The jump chain is then uniform, so the time shares are the durations 90, 45, 45, 20 minutes over 200.
    const m = regimeModel({ transitions: uniform, tradesPerMinute: 60 });
    expect(m.stationary.map((x) => Number(x.toFixed(6)))).toEqual([0.45, 0.225, 0.225, 0.1]);
  });

  it('normalises intensities so the time-weighted rate is tradesPerMinute', () => {
    const m = regimeModel({ transitions: uniform, tradesPerMinute: 60 });
    // Average intensity 0.45*0.6 + 0.225*1.1 + 0.225*1.3 + 0.1*2.5 = 1.06; 60/min = 0.001/ms.
    expect(m.lambdaPerMs[0]).toBeCloseTo((0.001 * 0.6) / 1.06, 12);
    expect(m.lambdaPerMs[3]).toBeCloseTo((0.001 * 2.5) / 1.06, 12);
    const avg = m.stationary.reduce((s, w, i) => s + w * m.lambdaPerMs[i]!, 0);
    expect(avg).toBeCloseTo(0.001, 12);
  });

  it('takes overrides and refuses unusable ones', () => {
    const m = regimeModel({ regimes: { calm: { volPerDay: 0.5 } }, tradesPerMinute: 1 });
    expect(m.params[0]).toEqual({ ...DEFAULT_REGIME_PARAMS.calm, volPerDay: 0.5 });
    expect(() => regimeModel({ tradesPerMinute: 0 })).toThrow(SyntheticMarketConfigError);
    expect(() => regimeModel({ transitions: { ...uniform, calm: { calm: 0, 'trend-up': 0, 'trend-down': 0, volatile: 0 } }, tradesPerMinute: 1 })).toThrow(
      SyntheticMarketConfigError,
    );
  });
});

describe('RegimeChain', () => {
  it('never stays in a regime at a switch, spends about the stationary share in each, and is seeded', () => {
    const m = regimeModel({ tradesPerMinute: 1 });
    const chain = new RegimeChain(m, 1, 'BTC/USDT', 0);
    const again = new RegimeChain(m, 1, 'BTC/USDT', 0);
    const time = [0, 0, 0, 0];
    const holding = [0, 0, 0, 0];
    const visits = [0, 0, 0, 0];
    for (let i = 0; i < 20_000; i++) {
      time[chain.regime]! += chain.end - chain.start;
      holding[chain.regime]! += chain.end - chain.start;
      visits[chain.regime]!++;
      const prev = chain.regime;
      chain.advance();
      again.advance();
      expect(chain.regime).not.toBe(prev);
    }
    expect([again.regime, again.end]).toEqual([chain.regime, chain.end]);
    const total = time.reduce((a, b) => a + b, 0);
    time.forEach((t, i) => expect(Math.abs(t / total - m.stationary[i]!)).toBeLessThan(0.02));
    // Holding times are exponential with the configured means.
    REGIMES.forEach((r, i) => expect(holding[i]! / visits[i]! / DEFAULT_REGIME_PARAMS[r].meanDurationMs).toBeCloseTo(1, 1));
  });
});
