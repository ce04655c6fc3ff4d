import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder of the journal DDL: deploy/clickhouse, applied in file-name order. */
export const DDL_DIR = fileURLToPath(new URL('../../deploy/clickhouse/', import.meta.url));

/** One DDL statement and the file it comes from. */
export interface DdlStatement {
  readonly file: string;
  readonly sql: string;
}

/**
 * Splits SQL text into statements at `;` outside quotes and comments. Comment-only fragments are dropped; comments
 * inside a statement are kept (ClickHouse accepts them).
 */
export function splitStatements(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  let i = 0;
  let hasCode = false;
  const push = (end: number): void => {
    const s = text.slice(start, end).trim();
    if (hasCode && s) out.push(s);
    hasCode = false;
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === '-' && text[i + 1] === '-') {
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? text.length : nl + 1;
      continue;
    }
    if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 2;
      continue;
    }
    if (c === "'" || c === '"' || c === '`') {
      // A quote is escaped by a backslash or by doubling it; either way the scan resumes after it.
      let j = i + 1;
      while (j < text.length && text[j] !== c) j += text[j] === '\\' ? 2 : 1;
      i = j + 1;
      hasCode = true;
      continue;
    }
    if (c === ';') {
      push(i);
      start = i + 1;
    } else if (!/\s/.test(c)) hasCode = true;
    i++;
  }
  push(text.length);
  return out;
}

/** The DDL statements of a folder: every `*.sql` file in name order, each split into statements. */
export function loadDdl(dir: string = DDL_DIR): DdlStatement[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  return files.flatMap((file) => splitStatements(readFileSync(join(dir, file), 'utf8')).map((sql) => ({ file, sql })));
}
