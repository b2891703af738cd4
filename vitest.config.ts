import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration files each start their own nats-server cluster; on 2 cores two at a time is the limit.
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // CIM_TEST_RESULTS: where the JSON report goes (the server matrix writes one per version).
    reporters: ['default', ['json', { outputFile: process.env.CIM_TEST_RESULTS ?? 'coverage/test-results.json' }]],
  },
});
