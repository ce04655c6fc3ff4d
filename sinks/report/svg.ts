/**
 * Small inline-SVG charts for the HTML reports: no script, no external reference (not even an xmlns URL: inline SVG
 * in HTML5 needs none), every text escaped. Coordinates are rounded to 0.1 px.
 */

/** Escapes a string for HTML text and attribute values (also inside inline SVG). */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A point of a series, in data units. */
export interface XY {
  readonly x: number;
  readonly y: number;
}

/** One line of a chart. */
export interface Series {
  readonly name: string;
  readonly color: string;
  readonly points: readonly XY[];
  readonly dashed?: boolean;
  /** Stroke width, px (default 1.5). */
  readonly width?: number;
  /** Marker radius per point (px), drawn as circles; none when absent. */
  readonly markers?: readonly number[];
  /** Tooltip per marker (its <title>). */
  readonly tips?: readonly string[];
}

/** A tick: where (data units) and what it says. */
export interface Tick {
  readonly value: number;
  readonly label: string;
}

/** A closed numeric range. */
export interface Domain {
  readonly lo: number;
  readonly hi: number;
}

const r1 = (v: number): string => (Math.round(v * 10) / 10).toString();

/**
 * About `count` round ticks (1, 2 or 5 times a power of ten apart) covering [lo, hi], and the domain widened to the
 * outer ticks. An empty or inverted range is widened around its value first.
 */
export function niceTicks(lo: number, hi: number, count = 5): { domain: Domain; ticks: number[] } {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
    lo = 0;
    hi = 1;
  }
  if (!(hi > lo)) {
    const pad = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  const first = Math.floor(lo / step + 1e-9);
  const last = Math.ceil(hi / step - 1e-9);
  const ticks: number[] = [];
  // Multiply instead of adding, so ticks do not collect rounding error (0.30000000000000004).
  for (let k = first; k <= last; k++) ticks.push(Number((k * step).toPrecision(12)));
  return { domain: { lo: ticks[0]!, hi: ticks.at(-1)! }, ticks };
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const TIME_STEPS = [HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 28 * DAY, 91 * DAY, 182 * DAY, 364 * DAY];

/** Time ticks over [lo, hi] ms: at most `max`, on whole UTC hours or days, labelled `MM-DD HH:mm` or `YYYY-MM-DD`. */
export function timeTicks(lo: number, hi: number, max = 8): Tick[] {
  const step = TIME_STEPS.find((s) => Math.floor((hi - lo) / s) + 1 <= max) ?? TIME_STEPS.at(-1)!;
  const iso = (t: number): string => new Date(t).toISOString();
  const label = step < DAY ? (t: number) => `${iso(t).slice(5, 10)} ${iso(t).slice(11, 16)}` : (t: number) => iso(t).slice(0, 10);
  const ticks: Tick[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi; t += step) ticks.push({ value: t, label: label(t) });
  return ticks;
}

/** At most `max` points of a series, evenly spaced by index, always keeping the first and the last. */
export function thin<T>(points: readonly T[], max: number): T[] {
  if (points.length <= max) return [...points];
  const out: T[] = [];
  for (let k = 0; k < max; k++) out.push(points[Math.round((k * (points.length - 1)) / (max - 1))]!);
  return out;
}

/** Options of a chart with two numeric axes. */
export interface ChartOptions {
  /** The svg element's id (also names it in tests and in links within the page). */
  readonly id: string;
  /** Accessible title (the <title> of the svg). */
  readonly title: string;
  readonly series: readonly Series[];
  readonly x: { readonly domain: Domain; readonly ticks: readonly Tick[]; readonly label: string };
  readonly y: { readonly domain: Domain; readonly ticks: readonly Tick[]; readonly label: string };
  readonly width?: number;
  readonly height?: number;
  /** Draws y = x (for reliability diagrams; both axes must share a domain). */
  readonly diagonal?: boolean;
  /** Draws a line at y = 0 when inside the domain. */
  readonly zeroLine?: boolean;
}

/**
 * A line chart: grid, axes with ticks, optional diagonal and zero line, one polyline per series (with optional
 * circle markers), and a legend in the right margin. Points outside the domain are clamped to the plot's edge.
 */
export function lineChart(o: ChartOptions): string {
  const width = o.width ?? 920;
  const height = o.height ?? 380;
  const m = { left: 64, right: 170, top: 16, bottom: 48 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const { lo: x0, hi: x1 } = o.x.domain;
  const { lo: y0, hi: y1 } = o.y.domain;
  const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));
  const sx = (x: number): number => m.left + clamp((x - x0) / (x1 - x0 || 1), 0, 1) * pw;
  const sy = (y: number): number => m.top + (1 - clamp((y - y0) / (y1 - y0 || 1), 0, 1)) * ph;
  const parts: string[] = [];
  parts.push(`<svg id="${escapeHtml(o.id)}" class="chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-labelledby="${escapeHtml(o.id)}-title">`);
  parts.push(`<title id="${escapeHtml(o.id)}-title">${escapeHtml(o.title)}</title>`);
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" class="plot-bg"/>`);
  for (const t of o.x.ticks) {
    if (t.value < x0 || t.value > x1) continue;
    const x = r1(sx(t.value));
    parts.push(`<line x1="${x}" y1="${m.top}" x2="${x}" y2="${m.top + ph}" class="grid"/>`);
    parts.push(`<text x="${x}" y="${m.top + ph + 16}" class="tick" text-anchor="middle">${escapeHtml(t.label)}</text>`);
  }
  for (const t of o.y.ticks) {
    if (t.value < y0 || t.value > y1) continue;
    const y = r1(sy(t.value));
    parts.push(`<line x1="${m.left}" y1="${y}" x2="${m.left + pw}" y2="${y}" class="grid"/>`);
    parts.push(`<text x="${m.left - 6}" y="${y}" class="tick" text-anchor="end" dominant-baseline="middle">${escapeHtml(t.label)}</text>`);
  }
  if (o.zeroLine && y0 < 0 && y1 > 0) parts.push(`<line x1="${m.left}" y1="${r1(sy(0))}" x2="${m.left + pw}" y2="${r1(sy(0))}" class="zero"/>`);
  if (o.diagonal) {
    const lo = Math.max(x0, y0);
    const hi = Math.min(x1, y1);
    parts.push(`<line x1="${r1(sx(lo))}" y1="${r1(sy(lo))}" x2="${r1(sx(hi))}" y2="${r1(sy(hi))}" class="diagonal"><title>perfect calibration</title></line>`);
  }
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" class="frame"/>`);
  parts.push(`<text x="${m.left + pw / 2}" y="${height - 8}" class="axis-label" text-anchor="middle">${escapeHtml(o.x.label)}</text>`);
  parts.push(`<text x="14" y="${m.top + ph / 2}" class="axis-label" text-anchor="middle" transform="rotate(-90 14 ${m.top + ph / 2})">${escapeHtml(o.y.label)}</text>`);
  for (const s of o.series) {
    const pts = s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    parts.push(`<g class="series"><title>${escapeHtml(s.name)}</title>`);
    if (pts.length > 1) {
      parts.push(`<polyline fill="none" stroke="${escapeHtml(s.color)}" stroke-width="${s.width ?? 1.5}"${dash} points="${pts.map((p) => `${r1(sx(p.x))},${r1(sy(p.y))}`).join(' ')}"/>`);
    }
    if (s.markers) {
      s.points.forEach((p, k) => {
        if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) return;
        const tip = s.tips?.[k];
        const circle = `<circle cx="${r1(sx(p.x))}" cy="${r1(sy(p.y))}" r="${r1(s.markers![k] ?? 3)}" fill="${escapeHtml(s.color)}" fill-opacity="0.75"`;
        parts.push(tip === undefined ? `${circle}/>` : `${circle}><title>${escapeHtml(tip)}</title></circle>`);
      });
    }
    parts.push('</g>');
  }
  o.series.forEach((s, k) => {
    const y = m.top + 8 + k * 18;
    const x = m.left + pw + 14;
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    parts.push(`<line x1="${x}" y1="${y}" x2="${x + 22}" y2="${y}" stroke="${escapeHtml(s.color)}" stroke-width="${Math.max(2, s.width ?? 1.5)}"${dash}/>`);
    parts.push(`<text x="${x + 28}" y="${y}" class="legend" dominant-baseline="middle">${escapeHtml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** Options of a confusion-matrix heat map. */
export interface ConfusionOptions {
  readonly id: string;
  readonly title: string;
  /** Class names, in row and column order. */
  readonly classes: readonly string[];
  /** counts[actual][predicted]. */
  readonly counts: readonly (readonly number[])[];
}

/**
 * A confusion matrix as a heat map: rows the actual class, columns the predicted class; each cell shows its count and
 * its share of the row (how the rows of an actual class were predicted), shaded by that share.
 */
export function confusionChart(o: ConfusionOptions): string {
  const k = o.classes.length;
  const cell = 74;
  const m = { left: 70, top: 44 };
  const width = m.left + k * cell + 12;
  const height = m.top + k * cell + 14;
  const parts: string[] = [];
  parts.push(`<svg id="${escapeHtml(o.id)}" class="chart confusion" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-labelledby="${escapeHtml(o.id)}-title">`);
  parts.push(`<title id="${escapeHtml(o.id)}-title">${escapeHtml(o.title)}</title>`);
  parts.push(`<text x="${m.left + (k * cell) / 2}" y="12" class="axis-label" text-anchor="middle">predicted</text>`);
  parts.push(`<text x="12" y="${m.top + (k * cell) / 2}" class="axis-label" text-anchor="middle" transform="rotate(-90 12 ${m.top + (k * cell) / 2})">actual</text>`);
  o.classes.forEach((c, j) => {
    parts.push(`<text x="${m.left + j * cell + cell / 2}" y="${m.top - 8}" class="tick" text-anchor="middle">${escapeHtml(c)}</text>`);
    parts.push(`<text x="${m.left - 6}" y="${m.top + j * cell + cell / 2}" class="tick" text-anchor="end" dominant-baseline="middle">${escapeHtml(c)}</text>`);
  });
  for (let a = 0; a < k; a++) {
    const row = o.counts[a] ?? [];
    const total = row.reduce((s, v) => s + v, 0);
    for (let p = 0; p < k; p++) {
      const count = row[p] ?? 0;
      const share = total > 0 ? count / total : 0;
      const x = m.left + p * cell;
      const y = m.top + a * cell;
      // Light to dark blue by the row share; text turns white on dark cells.
      const light = Math.round(97 - share * 55);
      parts.push(`<rect x="${x}" y="${y}" width="${cell - 2}" height="${cell - 2}" fill="hsl(212, 70%, ${light}%)" class="${a === p ? 'cell diag' : 'cell'}"><title>actual ${escapeHtml(o.classes[a]!)}, predicted ${escapeHtml(o.classes[p]!)}: ${count}</title></rect>`);
      const ink = light < 62 ? ' fill="#fff"' : '';
      parts.push(`<text x="${x + (cell - 2) / 2}" y="${y + cell / 2 - 8}" class="cell-count" text-anchor="middle"${ink}>${count.toLocaleString('en-US')}</text>`);
      parts.push(`<text x="${x + (cell - 2) / 2}" y="${y + cell / 2 + 10}" class="cell-share" text-anchor="middle"${ink}>${total > 0 ? `${(share * 100).toFixed(1)}%` : '-'}</text>`);
    }
  }
  parts.push('</svg>');
  return parts.join('\n');
}
