import { isAbsolute, relative, resolve, sep } from 'node:path';

/**
 * How the registry writes artifact folders into its log, and reads them back: one rule, used everywhere.
 *
 * A folder is stored relative to the registry root (the folder holding registry.jsonl), with `/` separators, so the
 * registry and the artifacts it points to can move together (e.g. the repository with var/registry and models/store).
 * Only a folder with no relative path from the root (another drive on Windows) is stored absolute. Reading resolves a
 * stored folder against the registry root; an absolute one stays as it is.
 */

/** The folder as the log stores it: relative to the registry root when possible. */
export function storedArtifactDir(registryDir: string, artifactDir: string): string {
  const rel = relative(resolve(registryDir), resolve(artifactDir));
  if (isAbsolute(rel)) return resolve(artifactDir);
  return rel === '' ? '.' : rel.split(sep).join('/');
}

/** The absolute folder of a stored one. */
export function resolveArtifactDir(registryDir: string, storedDir: string): string {
  return resolve(registryDir, storedDir);
}
