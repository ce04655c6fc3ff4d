import type { Registry } from '../../models/registry/registry.ts';
import { LEARNING_ACTOR } from '../learning/epic.ts';
import type { LearningRegistry } from '../learning/ports.ts';

/** The model registry as continuous learning sees it: every change it makes is recorded with actor `learning`. */
export function learningRegistry(registry: Registry): LearningRegistry {
  const meta = (reason: string) => ({ actor: LEARNING_ACTOR, reason });
  return {
    roster: (member) => registry.member(member) ?? { champion: null, shadows: [], history: [] },
    nextVersion: (member) => registry.nextVersion(member),
    artifactDir: (member, version) => registry.artifactDir(member, version),
    addShadow: async (member, _version, dir, reason) => {
      await registry.register(dir, { ...meta(reason), shadow: true, member });
    },
    promote: async (member, version, reason) => {
      await registry.promote(member, version, meta(reason));
    },
    rollback: async (member, reason) => {
      await registry.rollback(member, meta(reason));
    },
    removeShadow: async (member, version, reason) => {
      await registry.removeShadow(member, version, meta(reason));
    },
  };
}
