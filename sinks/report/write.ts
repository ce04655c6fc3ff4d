import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { EvalReport } from './eval-report.ts';
import { renderEvalReport } from './html.ts';

/** Renders a `qt evaluate` report and writes it to `path` (folders created); returns the absolute path. */
export function writeEvalReport(path: string, report: EvalReport): string {
  const abs = resolve(path);
  mkdirSync(dirname(abs), { recursive: true });
  writeFileSync(abs, renderEvalReport(report));
  return abs;
}
