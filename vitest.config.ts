import { defineConfig } from 'vitest/config'

/**
 * Two tiers, one command: `npm test` runs both (what CI runs); `npm run test:fast` runs the first alone,
 * for the edit–test loop, with four workers (`--maxWorkers=4` in package.json: its tests mostly wait on
 * sockets and timers, so on 2 cores that measured 72 → 44 s; the whole suite keeps the default, since the
 * browsers need the cores). `slow` holds what starts whole processes, proxies or browsers, or runs long:
 * the Chromium tests, the SIGKILL crash test, the 20,000-event soak, nginx/Caddy and the production build.
 */
const SLOW = [
  'web/e2e/**/*.test.ts',
  'server/test/crash.test.ts',
  'server/test/cluster-kill.test.ts',
  'server/test/cluster-proxy.test.ts',
  'server/test/process.test.ts',
  'server/test/proxy.test.ts',
  'server/test/production-build.test.ts',
  'server/test/dockerfile.test.ts',
  'server/db/backup.test.ts',
]

export default defineConfig({
  test: {
    // Integration tests start real servers and browsers; a 2-core machine needs generous limits.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    globalSetup: ['server/test/global-setup.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'fast',
          include: ['server/**/*.test.ts', 'web/**/*.test.ts', 'bench/**/*.test.ts', 'demo/**/*.test.ts'],
          exclude: ['**/node_modules/**', ...SLOW],
        },
      },
      { extends: true, test: { name: 'slow', include: SLOW } },
    ],
  },
})
