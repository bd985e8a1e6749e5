import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // Emulators bind ports and spawn Java; keep files from fighting over the 2 cores.
          fileParallelism: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'browser',
          // Real Chromium against the real local stack (test/browser/harness.ts).
          include: ['test/browser/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // A poll waits on a render after an API round trip; 1 s (the default) is too short
          // on a loaded 2-core machine. A poll that passes returns as soon as it does.
          expect: { poll: { timeout: 15_000 } },
          // One stack and one Chromium at a time: the machine has 2 cores.
          fileParallelism: false,
        },
      },
    ],
  },
});
