import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['core/**/*.test.ts', 'bench/**/*.test.ts', 'plugin/**/*.test.ts', 'executors/**/*.test.ts', 'generators/**/*.test.ts', 'test/**/*.test.ts', 'e2e/**/*.test.ts'],
    // Fixture builds call gcc and boots run QEMU, both far slower than unit code.
    testTimeout: 120_000,
    hookTimeout: 300_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
