import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { MAX_LEVERAGE, positionSizing, sizePosition, SIZING_DEFAULTS, type SizingInput, type SizingResult } from './position-sizing.ts';

const base: SizingInput = { side: 'LONG', close: 100, atrPct: 0.01, equity: 10_000, riskScale: 1, openExposure: 0, instrumentExposure: 0 };
const size = (o: Partial<SizingInput> = {}, cfg: Partial<typeof SIZING_DEFAULTS> = {}): SizingResult => sizePosition({ ...base, ...o }, { ...SIZING_DEFAULTS, ...cfg });
const ok = (r: SizingResult) => {
  if (!r.ok) throw new Error(`expected a sized order, got ${r.reason}: ${r.detail}`);
  return r;
};

describe('sizePosition: sizing by risk', () => {
  it('sizes a LONG from 1% risk and a 1.5 ATR stop (hand-computed)', () => {
    // stop distance = 1.5 * 0.01 * 100 = 1.5; risk = 1% of 10 000 = 100; qty = 100 / 1.5 = 66.667; notional 6 666.67 (< 1x equity)
    const r = ok(size());
    expect(r.qty).toBeCloseTo(100 / 1.5, 9);
    expect(r.notional).toBeCloseTo(6_666.6667, 3);
    expect(r.leverage).toBe(1); // ceil(0.667)
    expect(r.stopPrice).toBeCloseTo(98.5, 12);
    expect(r.takeProfits.map((x) => Number(x.toFixed(9)))).toEqual([101.5, 103, 104.5]); // entry + 1R, 2R, 3R with R = 1.5
    expect(r.riskFraction).toBeCloseTo(0.01, 12);
  });

  it('puts the stop above and the take-profits below for a SHORT', () => {
    const r = ok(size({ side: 'SHORT' }));
    expect(r.stopPrice).toBeCloseTo(101.5, 12);
    expect(r.takeProfits.map((x) => Number(x.toFixed(9)))).toEqual([98.5, 97, 95.5]);
    expect(r.qty).toBeCloseTo(100 / 1.5, 9);
  });

  it('scales the risk by riskScale, clamped to 0..2', () => {
    const wide = { maxInstrumentExposure: 10 };
    // risk 2% = 200; qty = 200 / 1.5 = 133.33
    expect(ok(size({ riskScale: 2 }, wide)).qty).toBeCloseTo(200 / 1.5, 9);
    expect(ok(size({ riskScale: 5 }, wide)).qty).toBeCloseTo(200 / 1.5, 9);
    // risk 0.5% = 50; qty = 33.33
    expect(ok(size({ riskScale: 0.5 })).qty).toBeCloseTo(50 / 1.5, 9);
  });

  it('uses the configured take-profit ladder and stop multiple', () => {
    const r = ok(size({}, { takeProfitR: [0.5, 4], stopAtrMultiple: 2 }));
    // R = 2 * 0.01 * 100 = 2
    expect(r.stopPrice).toBeCloseTo(98, 12);
    expect(r.takeProfits.map((x) => Number(x.toFixed(9)))).toEqual([101, 108]);
  });
});

describe('sizePosition: caps and leverage', () => {
  it('caps the notional at 1x equity per instrument, lowering the risk taken', () => {
    // stop distance = 1.5 * 0.002 * 100 = 0.3; qty by risk = 100 / 0.3 = 333.33, notional 33 333 > 10 000
    const r = ok(size({ atrPct: 0.002 }));
    expect(r.notional).toBeCloseTo(10_000, 6);
    expect(r.qty).toBeCloseTo(100, 9);
    expect(r.leverage).toBe(1); // exactly 1x equity: 1, not 2
    expect(r.riskFraction).toBeCloseTo((100 * 0.3) / 10_000, 12); // 0.3%
    expect(r.detail).toContain('capped by instrument exposure');
  });

  it('sets an adaptive leverage: the smallest whole number covering notional / equity', () => {
    // notional 33 333 under caps of 5x and 10x -> leverage ceil(3.33) = 4
    const r = ok(size({ atrPct: 0.002 }, { maxInstrumentExposure: 5, maxExposure: 10 }));
    expect(r.notional).toBeCloseTo(100 / 0.3 * 100, 6);
    expect(r.leverage).toBe(4);
  });

  it('never lets leverage exceed the maximum: the notional is capped at maxLeverage x equity', () => {
    const r = ok(size({ atrPct: 0.002 }, { maxLeverage: 2, maxInstrumentExposure: 10, maxExposure: 10 }));
    expect(r.notional).toBeCloseTo(20_000, 6);
    expect(r.leverage).toBe(2);
    expect(r.detail).toContain('capped by leverage');
  });

  it('caps by the total exposure room and denies EXPOSURE_CAP when the room is below the minimum notional', () => {
    // room = 3 * 10 000 - 25 000 = 5 000 -> qty 50
    const r = ok(size({ atrPct: 0.002, openExposure: 25_000 }));
    expect(r.notional).toBeCloseTo(5_000, 6);
    expect(r.qty).toBeCloseTo(50, 9);
    expect(size({ openExposure: 29_995 })).toMatchObject({ ok: false, reason: 'EXPOSURE_CAP' }); // room 5 < 10
    expect(size({ instrumentExposure: 9_995 })).toMatchObject({ ok: false, reason: 'EXPOSURE_CAP' });
  });
});

describe('sizePosition: margin', () => {
  it('defaults to at most 10x, within the 1..30 bound of the config', () => {
    expect(SIZING_DEFAULTS.maxLeverage).toBe(10);
    expect(MAX_LEVERAGE).toBe(30);
  });

  it('sets leverage from the free margin: ceil(notional / (equity - used margin)), so a second entry still fits', () => {
    // notional 6 666.67; equity 10 000 of which 7 000 is pledged: free 3 000 -> ceil(2.22) = 3x, margin 2 222 <= 3 000
    const r = ok(size({ usedMargin: 7_000 }));
    expect(r.notional).toBeCloseTo(6_666.6667, 3);
    expect(r.leverage).toBe(3);
    expect(r.notional / r.leverage).toBeLessThanOrEqual(3_000);
    expect(r.detail).toContain('3x on free margin 3000.00 (equity 10000.00, used 7000.00)');
    expect(ok(size({ usedMargin: 0 })).leverage).toBe(1);
  });

  it('gives the whole free margin at most: margin = notional / leverage never exceeds it (beyond dust), even at exact multiples', () => {
    for (const used of [0, 3_333.33, 5_000, 6_666.666666, 8_888.88, 9_000, 9_333.33]) {
      const r = ok(size({ usedMargin: used }));
      expect(r.notional / r.leverage).toBeLessThanOrEqual((10_000 - used) * (1 + 1e-9));
    }
  });

  it('caps the notional at maxLeverage x free margin', () => {
    // free 500: 10x carries 5 000 < the 6 667 wanted
    const r = ok(size({ usedMargin: 9_500 }));
    expect(r.notional).toBeCloseTo(5_000, 6);
    expect(r.leverage).toBe(10);
    expect(r.detail).toContain('capped by leverage');
  });

  it('denies EXPOSURE_CAP with "insufficient margin" when even maxLeverage does not fit the minimum notional', () => {
    const tight = size({ usedMargin: 9_999.5 }); // free 0.5: 10x carries 5 < 10
    expect(tight).toMatchObject({ ok: false, reason: 'EXPOSURE_CAP' });
    expect(!tight.ok && tight.detail).toMatch(/^insufficient margin: 10x on free margin 0\.500000/);
    for (const used of [10_000, 12_000]) {
      const none = size({ usedMargin: used });
      expect(none).toMatchObject({ ok: false, reason: 'EXPOSURE_CAP' });
      expect(!none.ok && none.detail).toMatch(/^insufficient margin/);
    }
  });
});

describe('sizePosition: denials', () => {
  it('denies SIZE_TOO_SMALL when the risk-based notional is below the minimum, or there is no equity or scale', () => {
    // stop distance = 1.5 * 0.04 * 100 = 6; risk = 100 * 1% * 0.1 = 0.1; qty = 0.0167; notional 1.67 < 10
    const r = size({ equity: 100, atrPct: 0.04, riskScale: 0.1 });
    expect(r).toMatchObject({ ok: false, reason: 'SIZE_TOO_SMALL' });
    expect(size({ riskScale: 0 })).toMatchObject({ ok: false, reason: 'SIZE_TOO_SMALL' });
    expect(size({ equity: Number.NaN })).toMatchObject({ ok: false, reason: 'SIZE_TOO_SMALL' });
    expect(size({ equity: 0 })).toMatchObject({ ok: false, reason: 'SIZE_TOO_SMALL' });
  });

  it('denies INVALID_STOP for a missing or non-positive ATR or price, a stop below zero, or a take-profit below zero', () => {
    for (const o of [{ atrPct: 0 }, { atrPct: Number.NaN }, { atrPct: -0.01 }, { close: 0 }, { close: Number.NaN }]) {
      expect(size(o)).toMatchObject({ ok: false, reason: 'INVALID_STOP' });
    }
    // LONG: stop distance 1.5 * 0.7 * 100 = 105 > 100 -> stop at -5
    expect(size({ atrPct: 0.7 })).toMatchObject({ ok: false, reason: 'INVALID_STOP' });
    // SHORT: stop distance 37.5 -> TP3 = 100 - 3 * 37.5 = -12.5
    expect(size({ side: 'SHORT', atrPct: 0.25 })).toMatchObject({ ok: false, reason: 'INVALID_STOP' });
    // SHORT: stop distance 30 -> TP3 = 10: valid (the exposure cap then shrinks it)
    expect(size({ side: 'SHORT', atrPct: 0.2 }).ok).toBe(true);
  });
});

describe('positionSizing operator (marbles)', () => {
  it('emits one result per input', () => {
    new TestScheduler((a, b) => expect(a).toEqual(b)).run(({ cold, expectObservable }) => {
      const src = cold('a-b|', { a: { ...base, riskScale: 0 }, b: { ...base, atrPct: 0 } });
      expectObservable(src.pipe(positionSizing())).toBe('x-y|', {
        x: { ok: false, reason: 'SIZE_TOO_SMALL', detail: 'risk-based notional 0.00000 < min 10 (risk 0.000% of 10000.00)' },
        y: { ok: false, reason: 'INVALID_STOP', detail: 'stop distance 1.5 * atrPct 0 * close 100 is not positive' },
      });
    });
  });
});
