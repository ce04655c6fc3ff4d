import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The shipped model store (models/store). */
export const SHIPPED_STORE = join(import.meta.dirname, '..', '..', 'store');

/** FOR TESTS: copies the shipped store (or only `members`) to `dest`; returns `dest`. */
export function copyShippedStore(dest: string, members?: readonly string[]): string {
  mkdirSync(dest, { recursive: true });
  if (members === undefined) cpSync(SHIPPED_STORE, dest, { recursive: true });
  else for (const m of members) cpSync(join(SHIPPED_STORE, m), join(dest, m), { recursive: true });
  return dest;
}

/**
 * FOR TESTS: a new version folder `<parent>/<member>/<to>` copied from the shipped `<member>/v1`, with card.json's
 * version rewritten (the sha256 is of model.onnx, so the card still checks) and then changed by `edit`; returns it.
 */
export function addVersion(parent: string, member: string, to: string, edit: (card: Record<string, unknown>) => void = () => undefined): string {
  const dir = join(parent, member, to);
  mkdirSync(dir, { recursive: true });
  cpSync(join(SHIPPED_STORE, member, 'v1'), dir, { recursive: true });
  const card = JSON.parse(readFileSync(join(dir, 'card.json'), 'utf8')) as Record<string, unknown>;
  card.version = to;
  edit(card);
  writeFileSync(join(dir, 'card.json'), `${JSON.stringify(card, null, 2)}\n`);
  return dir;
}
