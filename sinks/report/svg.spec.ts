import { describe, expect, it } from 'vitest';
import { confusionChart, escapeHtml, lineChart, niceTicks, thin, timeTicks } from './svg.ts';

/** Every number of the drawing attributes of an svg string. */
function svgCoordinates(svg: string): number[] {
  const out: number[] = [];
  for (const m of svg.matchAll(/\s(?:x|y|x1|y1|x2|y2|cx|cy|r|width|height)="([^"]*)"/g)) out.push(Number(m[1]));
  for (const m of svg.matchAll(/\spoints="([^"]*)"/g)) for (const p of m[1]!.split(/[ ,]/)) out.push(Number(p));
  return out;
}

describe('svg helpers', () => {
  it('escapes the five HTML specials', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  it('picks round ticks and widens the domain to them', () => {
    expect(niceTicks(0.03, 0.97, 5)).toEqual({ domain: { lo: 0, hi: 1 }, ticks: [0, 0.2, 0.4, 0.6, 0.8, 1] });
    expect(niceTicks(-2.3, 0.1, 5).ticks).toEqual([-2.5, -2, -1.5, -1, -0.5, 0, 0.5]);
    const flat = niceTicks(0, 0, 5);
    expect(flat.domain.hi).toBeGreaterThan(flat.domain.lo);
    expect(niceTicks(Number.NaN, 1).ticks.every(Number.isFinite)).toBe(true);
  });

  it('puts time ticks on whole UTC hours or days, at most the number asked for', () => {
    const day = Date.UTC(2025, 0, 6);
    const hours = timeTicks(day, day + 86_400_000, 8);
    expect(hours.length).toBeLessThanOrEqual(8);
    expect(hours[0]).toEqual({ value: day, label: '01-06 00:00' });
    expect(hours[1]!.label).toBe('01-06 06:00');
    const days = timeTicks(day, day + 20 * 86_400_000, 8);
    expect(days.every((t) => t.label.length === 10 && t.value % 86_400_000 === 0)).toBe(true);
  });

  it('thins a series by index, keeping both ends', () => {
    const pts = [...Array(1000).keys()];
    const t = thin(pts, 11);
    expect(t).toEqual([0, 100, 200, 300, 400, 500, 599, 699, 799, 899, 999]);
    expect(thin([1, 2, 3], 10)).toEqual([1, 2, 3]);
  });

  it('draws lines inside the plot, clamping points outside the domain', () => {
    const svg = lineChart({
      id: 'c',
      title: 't',
      width: 400,
      height: 300,
      series: [{ name: 'a<b', color: '#000', points: [{ x: 0, y: 0 }, { x: 5, y: 50 }, { x: 10, y: -999 }], markers: [2, 3, 4] }],
      x: { domain: { lo: 0, hi: 10 }, ticks: [{ value: 0, label: '0' }, { value: 10, label: '10' }], label: 'x' },
      y: { domain: { lo: 0, hi: 100 }, ticks: [{ value: 0, label: '0' }, { value: 100, label: '100' }], label: 'y' },
      diagonal: true,
    });
    expect(svg).toContain('a&lt;b');
    const coords = svgCoordinates(svg);
    expect(coords.every((v) => Number.isFinite(v) && v >= 0 && v <= 400)).toBe(true);
    // The plot spans x 64..230 and y 16..252: (0,0) is the bottom-left corner, the -999 clamped to the bottom.
    expect(svg).toMatch(/points="64,252 147,134 230,252"/);
    expect(svg).toMatch(/class="diagonal"/);
  });

  it('draws a confusion matrix with counts and row shares', () => {
    const svg = confusionChart({ id: 'm', title: 'm', classes: ['DOWN', 'FLAT', 'UP'], counts: [[1, 3, 0], [0, 0, 0], [2, 2, 4]] });
    expect(svg).toContain('>75.0%<');
    expect(svg).toContain('>50.0%<');
    expect((svg.match(/<rect /g) ?? []).length).toBe(9);
    expect(svg.match(/>-</g)?.length).toBe(3); // the empty FLAT row has no shares
  });
});
