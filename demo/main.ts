/**
 * @module `npm run demo`: Radiator on a throwaway database (a temp directory, deleted on exit) with
 * webhook deliveries, visitors and custom metrics played against it over HTTP, so a newcomer sees a
 * live board within a minute. Ctrl-C stops everything cleanly.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Config, ConfigError, loadConfig } from '../server/config.ts'
import { createLogger } from '../server/log.ts'
import { ensureWebBuild } from '../server/http/web-build.ts'
import { startServer, type RunningServer } from '../server/server.ts'
import { capabilities } from '../server/capabilities.ts'
import { Demo, DEMO_METRICS_TOKEN, DEMO_SECRET, DEMO_SITES, demoEnv, FAILING, PIPELINES } from './scenario.ts'

const SHUTDOWN_LIMIT_MS = 5000

const dataDir = mkdtempSync(join(tmpdir(), 'radiator-demo-'))
const removeData = () => rmSync(dataDir, { recursive: true, force: true })
// Whatever ends the process, the throwaway database goes with it.
process.on('exit', removeData)

const time = () => new Date().toTimeString().slice(0, 8)
const say = (line: string) => process.stdout.write(`${time()} ${line}\n`)

let server: RunningServer | undefined
let demo: Demo | undefined
let stopping = false

async function shutdown(signal: string): Promise<void> {
  if (stopping) {
    process.stderr.write(`radiator demo: ${signal} again, exiting now\n`)
    process.exit(1)
  }
  stopping = true
  const force = setTimeout(() => {
    process.stderr.write('radiator demo: shutdown took too long; exiting\n')
    process.exit(1)
  }, SHUTDOWN_LIMIT_MS)
  force.unref()
  try {
    await demo?.stop()
    await server?.close()
    removeData()
    process.stdout.write('\nRadiator demo stopped; its temporary database is deleted.\n')
    process.exit(0)
  } catch (e) {
    process.stderr.write(`radiator demo: shutdown failed: ${String(e)}\n`)
    process.exit(1)
  }
}
// A second Ctrl-C while stopping forces the exit.
process.on('SIGINT', () => void shutdown('SIGINT'))
process.on('SIGTERM', () => void shutdown('SIGTERM'))

let config: Config
try {
  config = loadConfig({ ...demoEnv(), PORT: process.env.PORT || '8080', HOST: process.env.HOST, DATA_DIR: dataDir })
} catch (e) {
  if (!(e instanceof ConfigError)) throw e
  process.stderr.write(`radiator demo: ${e.message}\n`)
  process.exit(1)
}

const log = createLogger(config.LOG_LEVEL)
try {
  await ensureWebBuild(log)
} catch (e) {
  log.error('dashboard build failed; serving the API without it', { err: String(e) })
}
if (stopping) await new Promise(() => {})

try {
  server = await startServer(config, log, capabilities)
} catch (e) {
  const inUse = (e as NodeJS.ErrnoException).code === 'EADDRINUSE'
  process.stderr.write(
    inUse
      ? `radiator demo: port ${config.PORT} is in use; try PORT=${config.PORT + 1} npm run demo\n`
      : `radiator demo: could not start: ${String(e)}\n`
  )
  process.exit(1)
}

process.stdout.write(
  `Radiator demo — open the dashboard: ${server.url}/\n` +
    `  Sites:  ${server.url}/sites   TV mode: ${server.url}/tv\n` +
    `  A throwaway database in ${dataDir} (deleted on exit). Ctrl-C to stop.\n` +
    `  Open to anyone who can reach it, no sign-in (PUBLIC_DASHBOARD=true): it is a demo.\n\n`
)

// Requests go straight to the loopback address: "localhost" may resolve to ::1 first.
const wildcard = config.HOST === '0.0.0.0' || config.HOST === '::'
const base = wildcard ? `http://127.0.0.1:${server.port}` : server.url
demo = new Demo({ url: base, secret: DEMO_SECRET, metricsToken: DEMO_METRICS_TOKEN, sites: DEMO_SITES, out: say })
await demo.playHistory()
if (!stopping) {
  const providers = new Set(PIPELINES.map((p) => p.provider)).size
  say(
    `history played: ${PIPELINES.length} pipelines on ${providers} providers; ${FAILING.project} ${FAILING.branch} is failing`
  )
  demo.start()
  say(`builds, visitors and metrics are live (${DEMO_SITES.join(', ')})`)
}
