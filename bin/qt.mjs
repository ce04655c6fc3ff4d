#!/usr/bin/env node
// The qt command: TypeScript sources run through tsx's loader (no build step).
import { register } from 'tsx/esm/api';

register();
const { cli } = await import('../pipelines/cli/main.ts');
process.exitCode = await cli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  wallNow: () => performance.now(),
});
