import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'tunnel/**/*.test.ts', 'hub/**/*.test.ts', 'renderer/**/*.test.ts'],
    // The CLI runs compiled, as users run it: build it from the sources under test first.
    globalSetup: ['test/support/build-cli.ts'],
    // Deadlines for a loaded 2-core machine (CI runs everything at once there), not speed targets: a
    // test ends when it is done, and a hung one is still caught.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // expect.poll gives up after 1 s by default: too little for a page or a tunnel on a loaded machine.
    // Like test/support/waiting.ts's until, it ends as soon as the condition holds.
    expect: { poll: { timeout: 20_000 } },
    pool: 'forks',
    // Each file starts its own real PostgreSQL; two at a time suits a 2-core machine.
    maxWorkers: 2,
    reporters: process.env.CI ? ['verbose'] : ['default'],
  },
});
