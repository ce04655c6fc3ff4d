import { describe, expect, it } from 'vitest';
import type { BrainDecision } from '../../schemas/brain-decision.ts';
import type { DeadLetter } from '../../schemas/dead-letter.ts';
import type { EnsembleSignal } from '../../schemas/ensemble-signal.ts';
import type { FeatureVector } from '../../schemas/feature-vector.ts';
import type { Trade } from '../../schemas/trade.ts';
import { jsonDouble, mapRows, rowObjects } from './rows.ts';
import { JOURNAL_TABLES, TOPIC_TABLES, avroLeaves, columnsOf, snakeCase, tableOf } from './tables.ts';
import { EncodeError } from '../../schemas/codec.ts';
import { DATA_TOPIC_SCHEMAS, UnknownTopicError } from '../../schemas/topics.ts';

const env = { id: 'x-1', tsEvent: 1_738_368_000_000, tsInit: 1_738_368_000_007 };
const inst = { exchange: 'binance', symbol: 'ETH/USDT' };

describe('tables', () => {
  it('snakeCase splits camelCase at each capital', () => {
    expect(snakeCase('tsEvent')).toBe('ts_event');
    expect(snakeCase('pDown')).toBe('p_down');
    expect(snakeCase('drawdownDay')).toBe('drawdown_day');
    expect(snakeCase('id')).toBe('id');
  });

  it('routes every data topic to its own table and every dead-letter topic to dead_letters', () => {
    expect(tableOf('md.trades.v1')).toBe('trades');
    expect(tableOf('pos.equity.v1')).toBe('equity');
    expect(tableOf('exit.events.v1.dlq')).toBe('dead_letters');
    expect(tableOf('md.trades.v1.dlq')).toBe('dead_letters');
    expect(new Set(Object.values(TOPIC_TABLES)).size).toBe(18);
    expect(JOURNAL_TABLES).toHaveLength(20);
  });

  it('resolves a named type used twice (the second use is a reference by full name)', () => {
    // BrainDecision uses the Signal enum for `side` (nullable) and again for `signal`, written as "qt.brain.Signal".
    const leaves = avroLeaves(DATA_TOPIC_SCHEMAS['brain.decisions.v1']);
    const byPath = new Map(leaves.map((l) => [l.path.join('.'), l]));
    expect(byPath.get('side')).toMatchObject({ kind: 'enum', nullable: true, array: false });
    expect(byPath.get('signal')).toMatchObject({ kind: 'enum', nullable: false, array: false });
    expect(byPath.get('members')?.elements?.map((e) => e.path.join('.'))).toEqual(['member', 'modelVersion', 'weight', 'pDown', 'pFlat', 'pUp']);
  });

  it('classifies longs named ts* or *Time as times and other longs as Int64', () => {
    const kinds = Object.fromEntries(columnsOf('bars').map((c) => [c.name, c.kind]));
    expect(kinds).toMatchObject({ ts_event: 'time', ts_init: 'time', open_time: 'time', trades: 'long', interval: 'string' });
    expect(Object.fromEntries(columnsOf('dead_letters').map((c) => [c.name, c.kind]))).toMatchObject({ offset: 'long', partition: 'int' });
  });

  it('stores signal members as parallel arrays and flattens market with a prefix', () => {
    const cols = columnsOf('signals');
    expect(cols.filter((c) => c.name.startsWith('members_')).map((c) => [c.name, c.array])).toEqual([
      ['members_member', true],
      ['members_model_version', true],
      ['members_weight', true],
      ['members_p_down', true],
      ['members_p_flat', true],
      ['members_p_up', true],
    ]);
    expect(cols.filter((c) => c.name.startsWith('market_')).map((c) => c.name)).toEqual([
      'market_close',
      'market_atr_pct',
      'market_realized_vol',
      'market_rsi',
      'market_ema_ratio',
      'market_ret',
    ]);
  });

  it('leaves decision members out of decisions: they have their own table', () => {
    expect(columnsOf('decisions').some((c) => c.name.startsWith('members'))).toBe(false);
    expect(columnsOf('decision_members').map((c) => c.name)).toEqual([
      'decision_id', 'ts_event', 'ts_init', 'exchange', 'symbol', 'outcome', 'side', 'idx',
      'member', 'model_version', 'weight', 'p_down', 'p_flat', 'p_up',
    ]);
  });
});

describe('row mapping', () => {
  it('maps a trade field by field, keeping times as ms', () => {
    const t: Trade = { ...env, ...inst, tradeId: '77', price: 3000.25, size: 0.5, side: 'SELL' };
    expect(rowObjects('md.trades.v1', t)).toEqual({
      trades: [
        {
          id: 'x-1', ts_event: 1_738_368_000_000, ts_init: 1_738_368_000_007, exchange: 'binance', symbol: 'ETH/USDT',
          trade_id: '77', price: 3000.25, size: 0.5, side: 'SELL',
        },
      ],
    });
  });

  it('writes non-finite doubles as the strings ClickHouse reads, in scalars and arrays', () => {
    expect([jsonDouble(NaN), jsonDouble(Infinity), jsonDouble(-Infinity), jsonDouble(-0), jsonDouble(2.5)]).toEqual(['nan', 'inf', '-inf', -0, 2.5]);
    const fv: FeatureVector = {
      ...env, ...inst, barId: 'bar-1', openTime: 1_738_367_940_000, close: NaN, featureSet: 'fs1',
      values: [1, NaN, -Infinity], windowLength: 1, windowChannels: 2, window: [0.5, 0.25],
    };
    const row = rowObjects('feat.vectors.v1', fv).feature_vectors![0]!;
    expect(row.close).toBe('nan');
    expect(row.values).toEqual([1, 'nan', '-inf']);
    expect(row.window).toBe(fv.window); // all finite: passed through without a copy
  });

  it('turns a signal into one row with parallel member arrays and a flattened market', () => {
    const s: EnsembleSignal = {
      ...env, ...inst, featureId: 'fv-1', pDown: 0.2, pFlat: 0.3, pUp: 0.5, signal: 'LONG', confidence: 0.5,
      members: [
        { member: 'a', modelVersion: 'a1', weight: 0.75, pDown: 0.1, pFlat: 0.2, pUp: 0.7 },
        { member: 'b', modelVersion: 'b2', weight: 0.25, pDown: 0.5, pFlat: 0.4, pUp: Infinity },
      ],
      supervisor: 'BIAS', supervisorReason: 'one-sided',
      market: { close: 10, atrPct: 0.01, realizedVol: 0.02, rsi: 55, emaRatio: 0.001, ret: -0.003 },
      supervisorAction: 'BLOCK',
      regime: { volatility: 'LOW', trend: 'UP', marketVolatility: 'NORMAL', marketTrend: 'RANGE' },
    };
    const row = rowObjects('ens.signals.v1', s).signals![0]!;
    expect(row).toMatchObject({
      members_member: ['a', 'b'], members_model_version: ['a1', 'b2'], members_weight: [0.75, 0.25],
      members_p_down: [0.1, 0.5], members_p_flat: [0.2, 0.4], members_p_up: [0.7, 'inf'],
      market_close: 10, market_atr_pct: 0.01, market_realized_vol: 0.02, market_rsi: 55, market_ema_ratio: 0.001, market_ret: -0.003,
      supervisor: 'BIAS', supervisor_reason: 'one-sided',
    });
    expect(Object.keys(row)).toEqual(columnsOf('signals').map((c) => c.name));
  });

  it('turns a decision into its row plus one decision_members row per member, with the parent fields copied', () => {
    const d: BrainDecision = {
      ...env, ...inst, signalId: 'sig-1', outcome: 'INTENT', refusal: 'NONE', refusalDetail: '', side: 'SHORT', mode: 'SAFE',
      modeReason: 'drawdown', strategy: 'mean-revert', riskScale: 0.5, confidence: 0.7, signal: 'SHORT',
      members: [
        { member: 'xgb', modelVersion: 'v1', weight: 1, pDown: 0.7, pFlat: 0.2, pUp: 0.1 },
        { member: 'tst', modelVersion: 'v9', weight: 0, pDown: 0.2, pFlat: 0.2, pUp: 0.6 },
      ],
      close: 2, atrPct: 0.01,
    };
    const rows = rowObjects('brain.decisions.v1', d);
    expect(rows.decisions).toHaveLength(1);
    expect(rows.decisions![0]).toMatchObject({ id: 'x-1', signal_id: 'sig-1', side: 'SHORT', mode: 'SAFE', risk_scale: 0.5 });
    expect(rows.decision_members).toEqual([
      { decision_id: 'x-1', ts_event: env.tsEvent, ts_init: env.tsInit, exchange: 'binance', symbol: 'ETH/USDT', outcome: 'INTENT', side: 'SHORT', idx: 0, member: 'xgb', model_version: 'v1', weight: 1, p_down: 0.7, p_flat: 0.2, p_up: 0.1 },
      { decision_id: 'x-1', ts_event: env.tsEvent, ts_init: env.tsInit, exchange: 'binance', symbol: 'ETH/USDT', outcome: 'INTENT', side: 'SHORT', idx: 1, member: 'tst', model_version: 'v9', weight: 0, p_down: 0.2, p_flat: 0.2, p_up: 0.6 },
    ]);
  });

  it('keeps a null enum as null', () => {
    const d: BrainDecision = {
      ...env, ...inst, signalId: 's', outcome: 'REFUSAL', refusal: 'SIGNAL_FLAT', refusalDetail: 'flat', side: null, mode: 'NORMAL',
      modeReason: '', strategy: 'none', riskScale: 0, confidence: 0.4, signal: 'FLAT', members: [], close: 1, atrPct: 0,
    };
    const rows = rowObjects('brain.decisions.v1', d);
    expect(rows.decisions![0]!.side).toBeNull();
    expect(rows.decision_members).toBeUndefined();
  });

  it('writes a dead letter with its topic and the payload as base64', () => {
    const dl: DeadLetter = {
      id: 'md.bars.1m.v1:3:17', tsEvent: 5, tsInit: 6, sourceTopic: 'md.bars.1m.v1', partition: 3, offset: 17, key: null,
      payload: Buffer.from([0x00, 0xff, 0xfe, 0x0a, 0x41, 0x00]), stage: 'features', errorClass: 'DecodeError', reason: 'UNDECODABLE', message: 'bad',
    };
    const row = rowObjects('md.bars.1m.v1.dlq', dl).dead_letters![0]!;
    // 00 ff fe -> "AP/+", 0a 41 00 -> "CkEA" (6-bit groups 000000 001111 111111 111110 / 000010 100100 000100 000000).
    expect(row).toEqual({
      dlq_topic: 'md.bars.1m.v1.dlq', id: 'md.bars.1m.v1:3:17', ts_event: 5, ts_init: 6, source_topic: 'md.bars.1m.v1', partition: 3,
      offset: 17, key: null, payload_base64: 'AP/+CkEA', stage: 'features', error_class: 'DecodeError', reason: 'UNDECODABLE', message: 'bad',
    });
  });

  it('hands rows to the sink in message order, each parent before its children', () => {
    const seen: string[] = [];
    const d = (id: string): BrainDecision => ({
      ...env, ...inst, id, signalId: 's', outcome: 'INTENT', refusal: 'NONE', refusalDetail: '', side: 'LONG', mode: 'NORMAL', modeReason: '',
      strategy: 't', riskScale: 1, confidence: 1, signal: 'LONG', members: [{ member: 'm', modelVersion: 'v', weight: 1, pDown: 0, pFlat: 0, pUp: 1 }],
      close: 1, atrPct: 0,
    });
    mapRows('brain.decisions.v1', [d('a'), d('b')], (table, row) => seen.push(`${table}:${String(row[0])}`));
    expect(seen).toEqual(['decisions:a', 'decision_members:a', 'decisions:b', 'decision_members:b']);
  });
});

describe('named errors on bad input', () => {
  it('tableOf: UnknownTopicError for a name that is not a topic', () => {
    const e = (() => {
      try {
        tableOf('md.trades.v9' as never);
      } catch (err) {
        return err;
      }
      return null;
    })();
    expect(e).toBeInstanceOf(UnknownTopicError);
    expect(e).toMatchObject({ name: 'UnknownTopicError', topic: 'md.trades.v9', retriable: false });
  });

  it('mapRows: EncodeError naming the schema and field when a bytes field holds no bytes', () => {
    const bad = { ...env, sourceTopic: 'x', partition: -1, offset: 1, key: null, payload: 'not bytes', stage: 's', errorClass: 'E', reason: 'R', message: 'm' };
    const run = (): void => mapRows('md.trades.v1.dlq', [bad as unknown as DeadLetter], () => undefined);
    expect(run).toThrow(EncodeError);
    expect(run).toThrow(/qt\.dlq\.DeadLetter at payload \(bytes expected, got string\)/);
  });
});
