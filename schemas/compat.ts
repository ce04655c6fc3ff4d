import avro from 'avsc';

/** Which readers must be able to read which data. */
export type CompatibilityMode = 'backward' | 'forward' | 'full';

/** The verdict of a compatibility check; `problems` says which direction failed and why. */
export interface CompatibilityReport {
  readonly ok: boolean;
  readonly problems: readonly string[];
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Avro schema evolution check with avsc's resolver, as a schema registry does it: backward = a reader on the current
 * schema reads data written with the previous one; forward = a reader on the previous schema reads current data; full =
 * both. The project requires full compatibility between consecutive versions.
 */
export function checkCompatibility(previousAvro: unknown, currentAvro: unknown, mode: CompatibilityMode = 'full'): CompatibilityReport {
  const problems: string[] = [];
  let previous: avro.Type | undefined;
  let current: avro.Type | undefined;
  try {
    previous = avro.Type.forSchema(previousAvro as avro.Schema);
  } catch (e) {
    problems.push(`previous schema is not valid Avro: ${message(e)}`);
  }
  try {
    current = avro.Type.forSchema(currentAvro as avro.Schema);
  } catch (e) {
    problems.push(`current schema is not valid Avro: ${message(e)}`);
  }
  if (previous && current) {
    if (mode !== 'forward') {
      try {
        current.createResolver(previous);
      } catch (e) {
        problems.push(`backward: the current schema cannot read data of the previous one: ${message(e)}`);
      }
    }
    if (mode !== 'backward') {
      try {
        previous.createResolver(current);
      } catch (e) {
        problems.push(`forward: the previous schema cannot read data of the current one: ${message(e)}`);
      }
    }
  }
  return { ok: problems.length === 0, problems };
}

/**
 * The project's rule against a schema's released versions (oldest first): full compatibility with the latest one and
 * backward compatibility with every one (backward-transitive), so a consumer on the current schema reads any retained data.
 */
export function checkAgainstHistory(history: readonly unknown[], currentAvro: unknown): CompatibilityReport {
  const problems: string[] = [];
  history.forEach((version, i) => {
    const latest = i === history.length - 1;
    const r = checkCompatibility(version, currentAvro, latest ? 'full' : 'backward');
    for (const p of r.problems) problems.push(`v${i + 1}: ${p}`);
  });
  return { ok: problems.length === 0, problems };
}
