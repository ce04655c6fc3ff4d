/**
 * Defaults overlaid with the given settings, frozen; a key given as undefined keeps its default (a config section
 * parsed from an optional field hands such keys over). The one overlay of every stage's settings (risk, brains, exits,
 * paper broker).
 */
export function withDefaults<T extends object>(defaults: T, given: Partial<T> = {}): T {
  const merged: Record<string, unknown> = { ...(defaults as Record<string, unknown>) };
  for (const [k, v] of Object.entries(given)) if (v !== undefined) merged[k] = v;
  return Object.freeze(merged) as T;
}
