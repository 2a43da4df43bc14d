import { defineConfig } from 'vitest/config';

// Two projects:
//   unit         src/ and bench/ tests; no cluster.   npx vitest run --project unit
//   integration  test/ tests against a real kube-apiserver + etcd that
//                test/harness/global-setup.ts starts once per run (built from
//                Go modules, see docs/adr/0001-envtest-from-go-modules.md).
//                                                     npx vitest run --project integration
export default defineConfig({
  test: {
    teardownTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'bench/**/*.test.ts'],
          testTimeout: 30_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          globalSetup: ['test/harness/global-setup.ts'],
          // One shared API server on a 2-core machine: run files one at a time.
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
