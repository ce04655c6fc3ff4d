/** A command-line flag of a `qt` command and where it goes in the config tree. */
export interface FlagSpec {
  readonly name: string;
  readonly kind: 'string' | 'list' | 'boolean';
  /** Config path, e.g. ['run', 'seed']; undefined for flags the command handles itself. */
  readonly path?: readonly string[];
  readonly help: string;
  readonly value?: string;
}

/** Parsed command line: config overrides, the flags the command handles itself, positionals, and every problem. */
export interface ParsedArgs {
  readonly tree: Record<string, Record<string, unknown>>;
  readonly own: Record<string, string | string[] | boolean>;
  readonly positionals: string[];
  readonly problems: string[];
}

/**
 * Parses flags against the command's specs without stopping at the first problem: unknown flags, missing values and
 * repeated flags are all collected. A list flag takes every following word up to the next flag (`--data a.csv b/`).
 */
export function parseArgs(argv: readonly string[], specs: readonly FlagSpec[]): ParsedArgs {
  const tree: Record<string, Record<string, unknown>> = {};
  const own: Record<string, string | string[] | boolean> = {};
  const positionals: string[] = [];
  const problems: string[] = [];
  const byName = new Map(specs.map((s) => [s.name, s]));
  const seen = new Set<string>();
  const set = (spec: FlagSpec, value: string | string[] | boolean): void => {
    if (seen.has(spec.name)) problems.push(`--${spec.name}: given more than once`);
    seen.add(spec.name);
    if (spec.path) {
      const [section, key] = spec.path as [string, string];
      (tree[section] ??= {})[key] = value;
    } else own[spec.name] = value;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const [rawName, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    const negated = rawName.startsWith('no-') && byName.get(rawName.slice(3))?.kind === 'boolean';
    const spec = byName.get(negated ? rawName.slice(3) : rawName);
    if (!spec) {
      problems.push(`--${rawName}: unknown flag (known: ${specs.map((s) => `--${s.name}`).join(', ')})`);
      while (inline === undefined && i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) i++;
      continue;
    }
    if (spec.kind === 'boolean') {
      if (inline !== undefined && !['true', 'false'].includes(inline)) problems.push(`--${spec.name}: expects true or false, got ${inline}`);
      set(spec, negated ? false : inline !== 'false');
      continue;
    }
    const values: string[] = [];
    if (inline !== undefined) values.push(inline);
    else {
      while (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) {
        values.push(argv[++i]!);
        if (spec.kind === 'string') break;
      }
    }
    if (values.length === 0 || values.some((v) => v === '')) {
      problems.push(`--${spec.name}: needs a value${spec.value ? ` (${spec.value})` : ''}`);
      continue;
    }
    set(spec, spec.kind === 'list' ? values.flatMap((v) => v.split(',')).filter((v) => v !== '') : values[0]!);
  }
  return { tree, own, positionals, problems };
}

/** Renders the flags of a command for --help. */
export function formatFlags(specs: readonly FlagSpec[]): string {
  const left = specs.map((s) => `--${s.name}${s.kind === 'boolean' ? '' : ` <${s.value ?? 'value'}>`}`);
  const w = Math.max(...left.map((l) => l.length));
  return specs.map((s, i) => `  ${left[i]!.padEnd(w)}  ${s.help}`).join('\n');
}
