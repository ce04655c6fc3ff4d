import { defineConfig } from 'vitest/config';

// Deployments of eight stage processes (parity, crashes) load both cores on their own: they run one file at a time,
// after everything else, so neither they nor the timing-sensitive Kafka group tests run starved.
const DEPLOYMENTS = ['test/kafka/parity.test.ts', 'test/kafka/crash.test.ts', 'test/kafka/poison.test.ts', 'test/kafka/broker-faults.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: { name: 'unit+integration', include: ['**/*.spec.ts', 'test/**/*.test.ts'], exclude: ['node_modules/**', 'var/**', ...DEPLOYMENTS], sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: { name: 'deployments', include: DEPLOYMENTS, fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
