import type { CliIo } from './common.ts';

/** `qt models`: not built yet. */
export async function modelsCli(argv: readonly string[], io: CliIo): Promise<number> {
  io.stderr.write(`qt models: not available yet (${argv.join(' ')})\n`);
  return 2;
}
