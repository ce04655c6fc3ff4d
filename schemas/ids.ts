import { createHash } from 'node:crypto';

/**
 * A deterministic id: `prefix-` and 20 hex digits (80 bits) of SHA-256 over the parts. The same inputs always give the
 * same id, so a replay writes the same ids and idempotent sinks drop the duplicates.
 */
export function deriveId(prefix: string, ...parts: readonly (string | number)[]): string {
  const h = createHash('sha256');
  for (const p of parts) {
    h.update(String(p));
    h.update('\u0000');
  }
  return `${prefix}-${h.digest('hex').slice(0, 20)}`;
}
