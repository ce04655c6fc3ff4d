import { describe, expect, it } from 'vitest';
import { feeOf, slipped, slippageFraction, triggerBase, volumeBudget, type FillModelConfig } from './fill-model.ts';
import type { MarketPrint } from './market-print.ts';

const cfg: FillModelConfig = { slippageBps: 2, volatilitySlippage: 0, feeBps: 4, participation: 0.1 };
const print = (open: number, high: number, low: number, close: number, volume = 10): MarketPrint => ({
  kind: 'bar', id: 'b', exchange: 'binance', symbol: 'BTC/USDT', key: 'binance:BTC/USDT', tsEvent: 0, open, high, low, close, volume,
});

describe('fill model', () => {
  it('slips against the order and charges the taker fee on the notional', () => {
    const s = slippageFraction(cfg, print(100, 101, 99, 100));
    expect(s).toBeCloseTo(0.0002, 15);
    expect(slipped(100, 'BUY', s)).toBeCloseTo(100.02, 10);
    expect(slipped(100, 'SELL', s)).toBeCloseTo(99.98, 10);
    expect(feeOf(cfg, 100.02, 2)).toBeCloseTo(0.080016, 12);
  });

  it('adds the volatility term as a share of the relative range', () => {
    // range (104 - 96) / 100 = 8%; half of it = 4% on top of 2 bps.
    expect(slippageFraction({ ...cfg, volatilitySlippage: 0.5 }, print(100, 104, 96, 101))).toBeCloseTo(0.0402, 12);
  });

  it('caps the volume at the participation share', () => {
    expect(volumeBudget(cfg, print(100, 101, 99, 100, 37))).toBeCloseTo(3.7, 12);
  });

  it('fills a triggered exit at the trigger, or at the open when the print gapped through it', () => {
    // Long stop at 98 (a sell stop): touched inside the bar, or gapped below at the open.
    expect(triggerBase(print(99, 99.5, 97, 98.5), 98, 'SELL', 'stop')).toBe(98);
    expect(triggerBase(print(97, 97.5, 96, 97), 98, 'SELL', 'stop')).toBe(97);
    // Long target at 102 (a sell target): touched, or gapped above.
    expect(triggerBase(print(101, 102.5, 100.5, 102), 102, 'SELL', 'target')).toBe(102);
    expect(triggerBase(print(103, 104, 102.8, 103.5), 102, 'SELL', 'target')).toBe(103);
    // Short stop at 102 (a buy stop) gapped above; short target at 95 (a buy target) gapped below.
    expect(triggerBase(print(103, 103.5, 102.5, 103), 102, 'BUY', 'stop')).toBe(103);
    expect(triggerBase(print(101, 102.5, 100, 102), 102, 'BUY', 'stop')).toBe(102);
    expect(triggerBase(print(94, 94.5, 93, 94), 95, 'BUY', 'target')).toBe(94);
    // A trigger the print never reached is clamped into its range.
    expect(triggerBase(print(99, 99.5, 98.5, 99), 98, 'SELL', 'stop')).toBe(98.5);
  });
});
