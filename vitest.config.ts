import { defineConfig } from 'vitest/config';

/**
 * Four Vitest projects, one per test folder. Only `integration` and `chaos` run the global setup
 * (prerequisites, the cached Kafka jars and moto, one DynamoDB Local): `unit` and `infra` start
 * nothing outside the test process, so `npm run test:unit` needs neither Java nor Python.
 *
 * The global setup lives in the projects, not here: Vitest always runs the root config's global
 * setup, even when only `--project unit` is selected. When both projects that declare it run, it
 * does its work once and they share one DynamoDB Local (see test/support/global-setup.ts).
 */
const GLOBAL_SETUP = ['test/support/global-setup.ts'];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { extends: true, test: { name: 'infra', include: ['test/infra/**/*.test.ts'] } },
      { extends: true, test: { name: 'integration', include: ['test/integration/**/*.test.ts'], globalSetup: GLOBAL_SETUP } },
      { extends: true, test: { name: 'chaos', include: ['test/chaos/**/*.test.ts'], globalSetup: GLOBAL_SETUP } },
    ],
  },
});
