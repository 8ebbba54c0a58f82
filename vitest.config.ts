import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['server/**/*.test.ts', 'web/**/*.test.ts', 'bench/**/*.test.ts'],
    // Integration tests start real servers and browsers; a 2-core machine needs generous limits.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    globalSetup: ['server/test/global-setup.ts'],
  },
})
