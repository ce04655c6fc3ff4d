import { defineConfig } from 'vitest/config';

// Deployments of eight stage processes (parity, crashes, poison, broker faults) and the two-client fault measurements
// load both cores on their own: they run one file at a time, after everything else, so neither they nor the
// timing-sensitive group tests (a rebalance starved of CPU misses its heartbeats; groups.test.ts runs with them) starve.
const SEQUENTIAL = [
  'test/kafka/parity.test.ts',
  'test/kafka/crash.test.ts',
  'test/kafka/poison.test.ts',
  'test/kafka/broker-faults.test.ts',
  'test/kafka/platformatic.test.ts',
  'test/kafka/groups.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: { name: 'unit+integration', include: ['**/*.spec.ts', 'test/**/*.test.ts'], exclude: ['node_modules/**', 'var/**', ...SEQUENTIAL], sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: { name: 'sequential', include: SEQUENTIAL, fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
