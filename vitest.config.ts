import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // TAP and netns integration tests share kernel state; run files one at a time there.
    fileParallelism: true,
    pool: 'forks',
  },
});
