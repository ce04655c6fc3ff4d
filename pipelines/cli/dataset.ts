import type { CliIo } from './common.ts';

/** `qt dataset`: not built yet. */
export async function datasetCli(argv: readonly string[], io: CliIo): Promise<number> {
  io.stderr.write(`qt dataset: not available yet (${argv.join(' ')})\n`);
  return 2;
}
