import { hash } from 'node:crypto';

/**
 * A deterministic id: `prefix-` and 20 hex digits (80 bits) of SHA-256 over the parts, each followed by a NUL. The same
 * inputs always give the same id, so a replay writes the same ids and idempotent sinks drop the duplicates. One-shot
 * `crypto.hash` (Node >= 20.12): ids are made for every message, and a Hash object per id cost 2.5x as much.
 */
export function deriveId(prefix: string, ...parts: readonly (string | number)[]): string {
  let text = '';
  for (const p of parts) text += `${p}\u0000`;
  return `${prefix}-${hash('sha256', text, 'hex').slice(0, 20)}`;
}
