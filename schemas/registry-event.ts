import { array, enumOf, field, long, record, string, type Infer } from './avro.ts';
import { envelope } from './common.ts';

/** What a registry change did. */
export const RegistryAction = enumOf('RegistryAction', [
  'OTHER',
  'REGISTERED',
  'PROMOTED',
  'ROLLED_BACK',
  'SHADOW_ADDED',
  'SHADOW_REMOVED',
] as const, { fallback: 'OTHER' });
/** What a registry change did. */
export type RegistryAction = Infer<typeof RegistryAction>;

/**
 * model.registry.v1: one change of the model registry (keyed by member). The registry's log is the sequence of these
 * events; the champion and shadows of a member are the fold of its events, and each event carries the result so a
 * reader of one event needs no history.
 */
export const RegistryEventSchema = record('qt.model.RegistryEvent', {
  ...envelope,
  seq: field(long, { doc: 'position in the registry log, from 1, gap-free; the id derives from it' }),
  member: field(string, { doc: 'ensemble member, e.g. xgb' }),
  action: RegistryAction,
  version: field(string, { doc: 'the version acted on: registered, promoted, restored by a rollback, shadow added or removed' }),
  champion: field(string, { doc: 'champion of the member after the event, empty when none' }),
  previousChampion: field(string, { doc: 'champion of the member before the event, empty when none' }),
  shadows: field(array(string), { doc: 'shadow versions of the member after the event' }),
  dir: field(string, { doc: 'artifact folder of the version (card.json, model.onnx), absolute or relative to the registry root' }),
  actor: field(string, { doc: 'who made the change: cli, learning or bootstrap' }),
  reason: field(string, { doc: 'why, free text' }),
}, 'A model registry change.');
/** model.registry.v1 message. */
export type RegistryEvent = Infer<typeof RegistryEventSchema>;
