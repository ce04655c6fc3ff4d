/**
 * Adds the supervisor's reference numbers to model cards that were trained before the trainer wrote them, without
 * retraining (model.onnx is read, never written; its sha256 is checked by loadModel):
 * - data.train.featureStats: per FEATURE_NAMES value, the deciles of the card's training rows and the share of those
 *   rows per bin (binOf of models/card.ts), for every member (window members too);
 * - data.validation.predictionShares: the share of the card's validation rows by predicted class (predictedClass, the
 *   soft vote's rule), from the model run with onnxruntime-node;
 * - metrics.model.ece where the card lacks it (expectedCalibrationError of operators/ensemble/scoring.ts).
 *
 *   npx tsx scripts/annotate-cards.ts [--data var/dataset/usdm-h15.csv] [--store models/store] [--members xgb,...]
 *       [--version v1] [--dry-run]
 *
 * The rows are the trainer's: the dataset the card names (its CSV and window sidecar), rows with finite features (and,
 * for window members, a finite window) and a label (labelOf with the card's k and horizon), the training rows in
 * data.train.fromMs..toMs and the validation rows in data.validation.fromMs..toMs. Before anything is written, each
 * card's row counts and class counts must equal the card's and the recomputed validation log loss must equal
 * metrics.model.logLoss within 1e-4 (proof the rows are the same); otherwise nothing is written. The card's text keeps
 * its formatting: the new fields are inserted (or replaced), everything else is left byte for byte.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createReadStream } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { binOf, parseCard, type FeatureStat, type ModelCard } from '../models/card.ts';
import { loadModel } from '../models/load.ts';
import { expectedCalibrationError, labelOf, logLoss, predictedClass, type ClassIndex } from '../operators/ensemble/scoring.ts';
import { FEATURE_NAMES, WINDOW_CHANNELS, WINDOW_LENGTH } from '../operators/features/feature-set.ts';

const ROOT = resolve(import.meta.dirname, '..');
const LOG_LOSS_TOLERANCE = 1e-4;
const BATCH = 4096;

const { values: a } = parseArgs({
  options: {
    data: { type: 'string', default: join(ROOT, 'var', 'dataset', 'usdm-h15.csv') },
    store: { type: 'string', default: join(ROOT, 'models', 'store') },
    members: { type: 'string', default: 'xgb,lgbm,nhits,patchtst' },
    version: { type: 'string', default: 'v1' },
    'dry-run': { type: 'boolean', default: false },
  },
});

/** The rows of the dataset CSV, in file order (row i has window row i of the sidecar). */
interface Rows {
  readonly n: number;
  readonly openTime: Float64Array;
  /** n x F feature values, row-major. */
  readonly x: Float64Array;
  readonly fwdRet: Float64Array;
  /** The CSV's label column (-1 empty), or null for an export without it. */
  readonly label: Int8Array | null;
  readonly horizon: number;
  /** k the label column was made with (meta), when the CSV has one. */
  readonly labelK: number | null;
}

async function readRows(csv: string): Promise<Rows> {
  const meta = JSON.parse(readFileSync(`${csv}.meta.json`, 'utf8')) as { rows: number; horizon: number; features: string[]; label?: { k: number } };
  if (meta.features.join(',') !== FEATURE_NAMES.join(',')) throw new Error(`${csv}: features ${meta.features.join(',')}, the pipeline serves ${FEATURE_NAMES.join(',')}`);
  const F = FEATURE_NAMES.length;
  const n = meta.rows;
  const openTime = new Float64Array(n);
  const x = new Float64Array(n * F);
  const fwdRet = new Float64Array(n);
  let label: Int8Array | null = null;
  let i = -1;
  let fwdAt = 0;
  for await (const line of createInterface({ input: createReadStream(csv), crlfDelay: Infinity })) {
    if (i === -1) {
      const header = line.split(',');
      fwdAt = header.indexOf('fwd_ret');
      if (header.slice(4, fwdAt).join(',') !== FEATURE_NAMES.join(',')) throw new Error(`${csv}: unexpected header ${line}`);
      if (header[fwdAt + 1] === 'label') label = new Int8Array(n);
      i = 0;
      continue;
    }
    if (line === '') continue;
    if (i >= n) throw new Error(`${csv}: more rows than the meta's ${n}`);
    const f = line.split(',');
    openTime[i] = Number(f[0]);
    for (let j = 0; j < F; j++) x[i * F + j] = f[4 + j] === '' ? Number.NaN : Number(f[4 + j]);
    fwdRet[i] = f[fwdAt] === '' ? Number.NaN : Number(f[fwdAt]);
    if (label) label[i] = f[fwdAt + 1] === '' ? -1 : Number(f[fwdAt + 1]);
    i++;
  }
  if (i !== n) throw new Error(`${csv}: ${i} rows, the meta says ${n}`);
  return { n, openTime, x, fwdRet, label, horizon: meta.horizon, labelK: label ? (meta.label?.k ?? null) : null };
}

/** The q-quantile of sorted values, numpy's default (linear interpolation between the closest ranks). */
function quantileSorted(s: Float64Array, q: number): number {
  const pos = q * (s.length - 1);
  const lo = Math.floor(pos);
  const t = pos - lo;
  const a0 = s[lo]!;
  const b0 = s[Math.min(lo + 1, s.length - 1)]!;
  // numpy's _lerp: the formula from the nearer end, so t = 0 or 1 give the ranks exactly.
  return t >= 0.5 ? b0 - (b0 - a0) * (1 - t) : a0 + (b0 - a0) * t;
}

/** Deciles of each feature over the rows, and the share of rows per bin. */
function featureStats(rows: Rows, idx: readonly number[]): FeatureStat[] {
  const F = FEATURE_NAMES.length;
  return FEATURE_NAMES.map((feature, j) => {
    const v = new Float64Array(idx.length);
    idx.forEach((r, k) => (v[k] = rows.x[r * F + j]!));
    const sorted = v.slice().sort();
    const edges = Array.from({ length: 9 }, (_, d) => quantileSorted(sorted, (d + 1) / 10));
    const counts = new Array<number>(10).fill(0);
    for (const value of v) counts[binOf(edges, value)]!++;
    return { feature, edges, shares: counts.map((c) => c / idx.length) };
  });
}

/** What annotating one card computed, and the checks it passed. */
interface Annotation {
  readonly dir: string;
  readonly card: ModelCard;
  readonly featureStats: FeatureStat[];
  readonly predictionShares: [number, number, number];
  readonly ece: number;
  readonly logLoss: number;
}

async function annotate(dir: string, member: string, rows: Rows, windows: Float32Array | null): Promise<Annotation> {
  const card = parseCard(readFileSync(join(dir, 'card.json'), 'utf8'), join(dir, 'card.json'));
  const spec = { horizonBars: card.label.horizonBars, k: card.label.k ?? Number.NaN };
  if (card.label.kind !== 'fwd-logret-vol-band' || !(spec.k >= 0)) throw new Error(`${dir}: label ${card.label.kind} k=${card.label.k}: cannot recompute its labels`);
  if (card.horizonBars !== rows.horizon) throw new Error(`${dir}: horizon ${card.horizonBars}, the dataset's fwd_ret is over ${rows.horizon} bars`);
  const isWindow = card.input.kind === 'window';
  const F = FEATURE_NAMES.length;
  const W = WINDOW_LENGTH * WINDOW_CHANNELS.length;
  if (isWindow && !windows) throw new Error(`${dir}: a window model, and the dataset has no window sidecar`);
  const vol = FEATURE_NAMES.indexOf('rvol_30');
  const train: number[] = [];
  const valid: number[] = [];
  const labels: ClassIndex[] = [];
  const trainCounts = [0, 0, 0];
  const validCounts = [0, 0, 0];
  scan: for (let i = 0; i < rows.n; i++) {
    const t = rows.openTime[i]!;
    const inTrain = t >= card.data.train.fromMs && t <= card.data.train.toMs;
    const inValid = t >= card.data.validation.fromMs && t <= card.data.validation.toMs;
    if (!inTrain && !inValid) continue;
    for (let j = 0; j < F; j++) if (!Number.isFinite(rows.x[i * F + j]!)) continue scan;
    if (isWindow) for (let j = 0; j < W; j++) if (!Number.isFinite(windows![i * W + j]!)) continue scan;
    const fwd = rows.fwdRet[i]!;
    if (!Number.isFinite(fwd)) continue;
    const y = labelOf(fwd, rows.x[i * F + vol]!, spec);
    // The CSV's label column, when made with the card's k, is the same definition: it must agree.
    if (rows.label && rows.labelK === spec.k && rows.label[i] !== y) throw new Error(`row ${i + 2}: label column ${rows.label[i]}, labelOf ${y}`);
    if (inTrain) {
      train.push(i);
      trainCounts[y]!++;
    } else {
      valid.push(i);
      validCounts[y]!++;
      labels.push(y);
    }
  }
  const same = (what: string, got: unknown, want: unknown): void => {
    if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`${dir}: ${what} ${JSON.stringify(got)} here, ${JSON.stringify(want)} on the card: not the card's rows`);
  };
  same('training rows', train.length, card.data.train.rows);
  same('training class counts', trainCounts, card.data.train.classCounts);
  same('validation rows', valid.length, card.data.validation.rows);
  same('validation class counts', validCounts, card.data.validation.classCounts);

  const model = await loadModel(dir, { member, expectedFeatures: FEATURE_NAMES });
  const probs = new Float32Array(valid.length * 3);
  try {
    const width = isWindow ? W : F;
    for (let start = 0; start < valid.length; start += BATCH) {
      const m = Math.min(BATCH, valid.length - start);
      const batch = new Float32Array(m * width);
      for (let r = 0; r < m; r++) {
        const i = valid[start + r]!;
        if (isWindow) batch.set(windows!.subarray(i * W, (i + 1) * W), r * W);
        else for (let j = 0; j < F; j++) batch[r * F + j] = rows.x[i * F + j]!;
      }
      probs.set(await model.predict(batch, m), start * 3);
    }
  } finally {
    await model.close();
  }
  let loss = 0;
  const predicted = [0, 0, 0];
  for (let r = 0; r < valid.length; r++) {
    const [d, f, u] = [probs[r * 3]!, probs[r * 3 + 1]!, probs[r * 3 + 2]!];
    loss += logLoss(d, f, u, labels[r]!);
    predicted[predictedClass(d, f, u)]!++;
  }
  loss /= valid.length;
  if (!(Math.abs(loss - card.metrics.model.logLoss) <= LOG_LOSS_TOLERANCE)) {
    throw new Error(`${dir}: validation log loss ${loss} here, ${card.metrics.model.logLoss} on the card (|diff| > ${LOG_LOSS_TOLERANCE}): not the card's rows or model`);
  }
  return {
    dir,
    card,
    featureStats: featureStats(rows, train),
    predictionShares: predicted.map((c) => c / valid.length) as [number, number, number],
    ece: expectedCalibrationError(probs, labels),
    logLoss: loss,
  };
}

// --- editing the card's text: set members of nested objects, leaving every other byte as it was ---

interface Span {
  readonly start: number;
  readonly end: number;
  /** Objects: their members' key and value spans, in order. */
  readonly members?: Map<string, Span>;
}

/** Spans of a JSON text's values (a small parser: enough for the cards, which JSON.parse has already accepted). */
function spans(text: string): Span {
  let i = 0;
  const ws = (): void => {
    while (/\s/.test(text[i] ?? '')) i++;
  };
  const str = (): void => {
    i++;
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
  };
  const value = (): Span => {
    ws();
    const start = i;
    const c = text[i];
    if (c === '{') {
      i++;
      const members = new Map<string, Span>();
      ws();
      while (text[i] !== '}') {
        const k0 = i;
        str();
        const key = JSON.parse(text.slice(k0, i)) as string;
        ws();
        i++; // :
        members.set(key, value());
        ws();
        if (text[i] === ',') i++;
        ws();
      }
      i++;
      return { start, end: i, members };
    }
    if (c === '[') {
      i++;
      ws();
      while (text[i] !== ']') {
        value();
        ws();
        if (text[i] === ',') i++;
        ws();
      }
      i++;
      return { start, end: i };
    }
    if (c === '"') {
      str();
      return { start, end: i };
    }
    while (i < text.length && !/[\s,\]}]/.test(text[i]!)) i++;
    return { start, end: i };
  };
  return value();
}

/** Sets `key` of the object at `path` to `value`: replaces its value, or appends the member after the last one. */
function setMember(text: string, path: readonly string[], key: string, value: unknown): string {
  let obj = spans(text);
  for (const p of path) {
    const next = obj.members?.get(p);
    if (!next?.members) throw new Error(`card.json: no object at ${[...path].join('.')}`);
    obj = next;
  }
  const members = [...obj.members!.values()];
  const last = members.at(-1);
  if (!last) throw new Error(`card.json: ${path.join('.')} is empty`);
  // The indentation of the members: that of the line the last member starts on.
  const lineStart = text.lastIndexOf('\n', last.start) + 1;
  const indent = /^\s*/.exec(text.slice(lineStart))![0];
  const rendered = JSON.stringify(value, null, 2).replaceAll('\n', `\n${indent}`);
  const existing = obj.members!.get(key);
  if (existing) return text.slice(0, existing.start) + rendered + text.slice(existing.end);
  return `${text.slice(0, last.end)},\n${indent}${JSON.stringify(key)}: ${rendered}${text.slice(last.end)}`;
}

function cardText(n: Annotation): { text: string; addedEce: boolean } {
  const file = join(n.dir, 'card.json');
  const original = readFileSync(file, 'utf8');
  let text = setMember(original, ['data', 'train'], 'featureStats', n.featureStats);
  text = setMember(text, ['data', 'validation'], 'predictionShares', n.predictionShares);
  const raw = JSON.parse(original) as { metrics: { model: { ece?: number } } };
  const addedEce = raw.metrics.model.ece === undefined;
  if (addedEce) text = setMember(text, ['metrics', 'model'], 'ece', n.ece);
  // Nothing but the new fields changed, and the result is a valid card.
  const expected = JSON.parse(original) as { data: { train: object; validation: object }; metrics: { model: object } };
  expected.data.train = { ...expected.data.train, featureStats: n.featureStats };
  expected.data.validation = { ...expected.data.validation, predictionShares: n.predictionShares };
  if (addedEce) expected.metrics.model = { ...expected.metrics.model, ece: n.ece };
  if (JSON.stringify(JSON.parse(text)) !== JSON.stringify(expected)) throw new Error(`${file}: the edit changed more than the new fields`);
  parseCard(text, file);
  return { text, addedEce };
}

async function main(): Promise<number> {
  const csv = resolve(a.data);
  if (!existsSync(csv) || !existsSync(`${csv}.meta.json`) || !existsSync(`${csv}.window.f32`)) {
    process.stderr.write(
      `no dataset with its meta and window sidecar at ${csv}.\n` +
        `Export it (the real Binance USD-M klines in ../shared/data, the rows the shipped cards were trained on) with:\n` +
        `  npx tsx scripts/train-members.ts --export-only\n`,
    );
    return 2;
  }
  const t0 = performance.now();
  const rows = await readRows(csv);
  const W = WINDOW_LENGTH * WINDOW_CHANNELS.length;
  const bytes = readFileSync(`${csv}.window.f32`);
  if (bytes.length !== rows.n * W * 4) throw new Error(`${csv}.window.f32: ${bytes.length} bytes, expected ${rows.n} x ${W} float32`);
  // Little-endian float32 (the sidecar's dtype) read in place; copied only if the buffer is not 4-byte aligned.
  const windows = bytes.byteOffset % 4 === 0 ? new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4) : new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  process.stderr.write(`read ${rows.n} rows of ${csv} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  const done: Annotation[] = [];
  for (const member of a.members.split(',').map((m) => m.trim()).filter(Boolean)) {
    const dir = join(a.store, member, a.version);
    const t1 = performance.now();
    const n = await annotate(dir, member, rows, windows);
    done.push(n);
    process.stderr.write(
      `${member}/${a.version}: ${n.card.data.train.rows} training rows, ${n.card.data.validation.rows} validation rows; ` +
        `log loss ${n.logLoss.toFixed(6)} (card's |diff| ${Math.abs(n.logLoss - n.card.metrics.model.logLoss).toExponential(1)}); ` +
        `predicted DOWN/FLAT/UP ${n.predictionShares.map((s) => s.toFixed(3)).join('/')}; ECE ${n.ece.toFixed(4)}` +
        `${n.card.metrics.model.ece !== undefined ? ` (card's |diff| ${Math.abs(n.ece - n.card.metrics.model.ece).toExponential(1)})` : ''}; ${((performance.now() - t1) / 1000).toFixed(1)} s\n`,
    );
  }
  // Every card passed its checks: write them all.
  for (const n of done) {
    const { text, addedEce } = cardText(n);
    if (!a['dry-run']) writeFileSync(join(n.dir, 'card.json'), text);
    process.stderr.write(`${a['dry-run'] ? 'would write' : 'wrote'} ${join(n.dir, 'card.json')}: featureStats, predictionShares${addedEce ? ', ece' : ''}\n`);
  }
  return 0;
}

process.exitCode = await main();
