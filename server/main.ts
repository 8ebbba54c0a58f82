/**
 * @module The process entry: environment → config → dashboard build → server. The only module that
 * reads process.env, prints to the console for humans, or handles signals.
 */
import { type Config, ConfigError, loadConfig } from './config.ts'
import { createLogger } from './log.ts'
import { ensureWebBuild } from './http/web-build.ts'
import { startServer } from './server.ts'
import { StartupError } from './errors.ts'
import { capabilities } from './capabilities.ts'

const SHUTDOWN_LIMIT_MS = 5000

let config: Config
try {
  config = loadConfig(process.env)
} catch (e) {
  if (e instanceof ConfigError) {
    process.stderr.write(`radiator: ${e.message}\n`)
    process.exit(1)
  }
  throw e
}

const log = createLogger(config.LOG_LEVEL)
try {
  await ensureWebBuild(log)
} catch (e) {
  log.error('dashboard build failed; serving the API without it', { err: String(e) })
}
let server: Awaited<ReturnType<typeof startServer>>
try {
  server = await startServer(config, log, capabilities)
} catch (e) {
  // Something for the operator to fix (DATA_DIR, PORT, HOST): one line saying what, no stack.
  if (e instanceof StartupError) {
    process.stderr.write(`radiator: ${e.message}\n`)
    process.exit(1)
  }
  throw e
}
if (config.LOG_LEVEL !== 'silent') {
  process.stdout.write(
    `Radiator ${server.version} is running\n` +
      `  Dashboard:      ${server.url}/\n` +
      `  Webhooks:       ${server.url}/hooks/<provider>   (github, gitlab, circleci, …)\n` +
      `  Live stream:    ${server.url.replace(/^http/, 'ws')}/live\n` +
      `  Database:       ${server.where}\n`
  )
  // For the person who just started it, on their terminal only: never through the logger.
  if (server.signinUrl)
    process.stdout.write(
      `\n  No admin yet. Sign in once with this link (it works one time, for 24 hours):\n  ${server.signinUrl}\n` +
        `  Tokens for scripts and cctray clients: npm run token -- create --role viewer "CCMenu on my Mac"\n`
    )
}

const shutdown = (signal: string) => {
  log.info('shutting down', { signal })
  const force = setTimeout(() => {
    log.error('shutdown took too long; exiting')
    process.exit(1)
  }, SHUTDOWN_LIMIT_MS)
  force.unref()
  // Scheduled backups are the server's jobs: close() waits for one in progress.
  server.close().then(
    () => process.exit(0),
    (e) => {
      log.error('shutdown failed', { err: String(e) })
      process.exit(1)
    }
  )
}
process.once('SIGTERM', () => shutdown('SIGTERM'))
process.once('SIGINT', () => shutdown('SIGINT'))
