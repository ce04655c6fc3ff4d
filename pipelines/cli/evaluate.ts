import type { CliIo } from './common.ts';

/** `qt evaluate`: not built yet. */
export async function evaluateCli(argv: readonly string[], io: CliIo): Promise<number> {
  io.stderr.write(`qt evaluate: not available yet (${argv.join(' ')})\n`);
  return 2;
}
