import { readdirSync, readFileSync } from 'node:fs'
import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config'

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

/**
 * The engine matrix (issue 17): with RADIATOR_TEST_ENGINE=pg (`npm run test:pg`) the run is one project,
 * `pg`: the server-level tests — every fast test file that starts a Radiator in-process through
 * server/test/harness.ts (or metrics.ts) — again, each server on a fresh PostgreSQL database and
 * JetStream stream.
 * Unit tests, the slow tier and the browsers are engine-blind or SQLite's, so they run once; files that
 * make their own PostgreSQL databases (testCluster, freshDatabase) already run on it in the first pass.
 */
const STARTS_SERVER = /\b(?:startTestServer|perTest|startMetricsServer|metricsFixtures)\(/
const OWN_SERVICES = /\b(?:testCluster|freshDatabase)\(/

function serverLevelTests(): string[] {
  return ['server', 'demo'].flatMap((root) =>
    readdirSync(root, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.test.ts'))
      .map((f) => `${root}/${f}`)
      .filter((f) => {
        if (SLOW.includes(f)) return false
        const src = readFileSync(f, 'utf8')
        return STARTS_SERVER.test(src) && !OWN_SERVICES.test(src)
      })
  )
}

async function pgProject(): Promise<TestProjectInlineConfiguration> {
  // Probed here so that a laptop without PostgreSQL/NATS skips the whole pass with one loud line
  // (servicesUp), and CI (RADIATOR_REQUIRE_SERVICES=1) fails instead.
  const { servicesUp } = await import('./server/test/services.ts')
  const up = servicesUp('postgres', 'nats')
  return {
    extends: true,
    test: {
      name: 'pg',
      include: up ? serverLevelTests() : [],
      env: { RADIATOR_TEST_ENGINE: 'pg' },
      setupFiles: ['server/test/pg-setup.ts'],
    },
  }
}

const onPg = process.env.RADIATOR_TEST_ENGINE === 'pg'

export default defineConfig({
  test: {
    // Integration tests start real servers and browsers; a 2-core machine needs generous limits.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The pg pass without its services has nothing to run, which is not a failure (see pgProject).
    passWithNoTests: onPg,
    globalSetup: ['server/test/global-setup.ts'],
    projects: onPg
      ? [await pgProject()]
      : [
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
