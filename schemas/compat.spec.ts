import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { historyDir, readHistory } from '../scripts/schema-snapshot.ts';
import type { AvroField } from './avro.ts';
import { checkAgainstHistory, checkCompatibility } from './compat.ts';
import { ALL_SCHEMAS } from './topics.ts';
import { TradeSchema } from './trade.ts';

const ROOT = join(import.meta.dirname, '..');

type RecordAvro = { type: 'record'; name: string; fields: AvroField[] };
const trade = (): RecordAvro => structuredClone(TradeSchema.avro) as RecordAvro;
const withFields = (fields: AvroField[]): RecordAvro => ({ ...trade(), fields });

describe('schema history', () => {
  it.each(ALL_SCHEMAS.map((s) => [s.name, s] as const))('%s has released versions and the current schema keeps the rule', (name, schema) => {
    const dir = historyDir(ROOT, name);
    expect(existsSync(dir), `no history for ${name}: run node --import tsx scripts/schema-snapshot.ts`).toBe(true);
    const history = readHistory(dir);
    expect(history.length).toBeGreaterThan(0);
    // Full with the latest version, backward with every one.
    expect(checkAgainstHistory(history, schema.avro)).toEqual({ ok: true, problems: [] });
  });
});

describe('checkCompatibility', () => {
  it('accepts an identical schema in every mode', () => {
    for (const mode of ['backward', 'forward', 'full'] as const) expect(checkCompatibility(trade(), trade(), mode).ok).toBe(true);
  });

  it('accepts a nullable field added with default null (full)', () => {
    const next = trade();
    next.fields.push({ name: 'venueSeq', type: ['null', 'long'], default: null });
    expect(checkCompatibility(trade(), next)).toEqual({ ok: true, problems: [] });
  });

  it('reports a field added without a default: new readers cannot read old data', () => {
    const next = trade();
    next.fields.push({ name: 'venueSeq', type: 'long' });
    const r = checkCompatibility(trade(), next);
    expect(r.ok).toBe(false);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatch(/^backward: .*venueSeq/);
    // Old readers ignore the extra field, so forward alone passes.
    expect(checkCompatibility(trade(), next, 'forward').ok).toBe(true);
  });

  it('reports a type change double -> string in both directions', () => {
    const next = withFields(trade().fields.map((f) => (f.name === 'price' ? { ...f, type: 'string' } : f)));
    const r = checkCompatibility(trade(), next);
    expect(r.ok).toBe(false);
    expect(r.problems.map((p) => p.split(':')[0])).toEqual(['backward', 'forward']);
  });

  it('reports an enum symbol removed: old data may hold it', () => {
    const next = withFields(
      trade().fields.map((f) => (f.name === 'side' ? { ...f, type: { type: 'enum', name: 'Side', symbols: ['BUY'] } } : f)),
    );
    const r = checkCompatibility(trade(), next);
    expect(r.ok).toBe(false);
    expect(r.problems.some((p) => p.startsWith('backward:'))).toBe(true);
  });

  it('reports a field without default removed: old readers need it', () => {
    const next = withFields(trade().fields.filter((f) => f.name !== 'size'));
    const r = checkCompatibility(trade(), next);
    expect(r.ok).toBe(false);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatch(/^forward: .*size/);
    expect(checkCompatibility(trade(), next, 'backward').ok).toBe(true);
  });

  it('reports a renamed record', () => {
    const r = checkCompatibility(trade(), { ...trade(), name: 'qt.md.Tick' });
    expect(r.ok).toBe(false);
  });

  it('reports a schema that is not valid Avro instead of throwing', () => {
    const r = checkCompatibility(trade(), { type: 'record', name: 'x', fields: [{ name: 'a', type: 'decimal128' }] });
    expect(r.ok).toBe(false);
    expect(r.problems[0]).toMatch(/^current schema is not valid Avro/);
  });
});

describe('checkAgainstHistory', () => {
  // v1: no note; v2: note with default ''; v3: note without default. v2 -> v3 is fully compatible, but v3 cannot read
  // v1 data (no note, no default): only the transitive backward check sees it.
  const v1 = trade();
  const v2 = trade();
  v2.fields.push({ name: 'note', type: 'string', default: '' });
  const v3 = trade();
  v3.fields.push({ name: 'note', type: 'string' });

  it('passes consecutive full compatibility alone', () => {
    expect(checkCompatibility(v2, v3).ok).toBe(true);
  });

  it('reports a break with an older version (backward-transitive)', () => {
    const r = checkAgainstHistory([v1, v2], v3);
    expect(r.ok).toBe(false);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatch(/^v1: backward: .*note/);
  });

  it('checks only backward against older versions, full against the latest', () => {
    // Removing a defaultless field breaks forward compatibility; against v1 (older) that is allowed, against the latest not.
    const dropped = withFields(trade().fields.filter((f) => f.name !== 'size'));
    expect(checkAgainstHistory([trade(), dropped], dropped).ok).toBe(true);
    expect(checkAgainstHistory([dropped, trade()], dropped).problems).toEqual([expect.stringMatching(/^v2: forward: /)]);
  });
});
