/**
 * @module The app factory: every dependency is passed in, nothing is read from the environment,
 * so tests build the same app main.ts serves with a temp database and explicit config.
 */
import { Hono, type MiddlewareHandler } from 'hono'
import { secureHeaders } from 'hono/secure-headers'
import type { Config } from './config.ts'
import type { Engine } from './db/engine.ts'
import { AppError, makeErrorHandler } from './errors.ts'
import type { Hub } from './live/hub.ts'
import { liveRoutes } from './live/routes.ts'
import type { Logger } from './log.ts'
import { staticRoutes } from './http/static.ts'
import { access, APP_WIDE, installAccess, type AccessControl } from './access/guard.ts'
import { csrfGuard } from './access/csrf.ts'
import type { Telemetry } from './observability/telemetry.ts'
import { requestIds, requestLog } from './observability/requests.ts'
import { observabilityRoutes } from './observability/routes.ts'

export interface AppDeps {
  config: Config
  engine: Engine
  hub: Hub
  log: Logger
  /** The Prometheus series (GET /metrics) that requests and capabilities count into. */
  telemetry: Telemetry
  version: string
  startedAt: number
  /** Who may do what: every route below declares its level with an `access.*` guard. */
  access: AccessControl
  /** Extra sub-apps mounted by capabilities (CI hooks, metrics), in order. */
  mounts?: [path: string, app: Hono][]
}

/** The security headers of every answer (the long poll, answered outside Hono, sends the same: live/poll-node.ts). */
export function securityHeaders(config: Config): MiddlewareHandler {
  return secureHeaders({
    overwrite: false,
    contentSecurityPolicy: {
      defaultSrc: ["'self'"],
      // The page loads nothing from elsewhere (a TV may have no internet); no inline script.
      scriptSrc: ["'self'"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      objectSrc: ["'none'"],
      baseUri: ["'none'"],
      formAction: ["'self'"],
      frameAncestors: config.FRAME_ANCESTORS,
    },
    // frame-ancestors decides framing; X-Frame-Options can't say "these origins".
    xFrameOptions: false,
    referrerPolicy: 'no-referrer',
    crossOriginEmbedderPolicy: false,
  })
}

export function createApp(deps: AppDeps) {
  const { engine, hub, version, startedAt } = deps
  const writer = engine.writer
  const app = new Hono()
  app.onError(makeErrorHandler(deps.log))
  app.use('*', requestIds())
  app.use(
    '*',
    requestLog({
      log: deps.log,
      telemetry: deps.telemetry,
      successPerSecond: deps.config.LOG_SUCCESS_PER_SECOND,
      sampleRate: deps.config.LOG_SAMPLE_SUCCESS,
    })
  )
  app.use('*', installAccess(deps.access))
  // Security headers on every answer; a route's own (beacon.js's cross-origin CORP) win.
  app.use('*', Object.assign(securityHeaders(deps.config), { [APP_WIDE]: true }))
  app.use('*', csrfGuard(deps.config))

  // Status for load balancers and uptime checks; the details only for a signed-in viewer.
  app.get('/healthz', access.public, async (c) => {
    // Writes the disk refuses (full, I/O error, read-only) count as down while they last: they
    // are answered 503, and a balancer should know before its users do.
    let db = writer.failed
      ? `writes stopped: ${writer.failed.message}`
      : writer.refused
        ? `writes refused since ${new Date(writer.refused.since).toISOString()}: ${writer.refused.error}`
        : 'ok'
    try {
      if (engine.kind === 'sqlite') engine.store.sqlite.prepare('SELECT 1').get()
      else await pgAlive(engine.store.pool)
    } catch (e) {
      db = e instanceof Error ? e.message : 'unusable'
    }
    // In a cluster, an instance that cannot reach the live stream serves screens old data: down too.
    const live = hub.streamProblem
    if (db === 'ok' && live) db = live
    const body = {
      status: db === 'ok' ? 'ok' : 'unavailable',
      version,
      uptimeS: Math.round((Date.now() - startedAt) / 1000),
      db,
      liveClients: hub.clientCount,
      lastEventId: hub.head,
      writes: writer.stats,
    }
    // Strangers learn up or down, nothing about version, counts or the database.
    const detailed = deps.access.permits(deps.access.principal(c), 'viewer')
    return c.json(detailed ? body : { status: body.status }, db === 'ok' ? 200 : 503, { 'cache-control': 'no-store' })
  })

  app.route('/live', liveRoutes(deps))
  app.route('/', observabilityRoutes(deps.telemetry))
  for (const [path, sub] of deps.mounts ?? []) app.route(path, sub)

  app.all('/api/*', access.public, () => {
    throw new AppError('NOT_FOUND', 'no such API route')
  })
  app.route('/', staticRoutes())
  app.notFound(() => {
    throw new AppError('NOT_FOUND', 'not found')
  })
  return app
}

/** PostgreSQL answers a trivial query within a load balancer's patience, or the instance is down. */
async function pgAlive(pool: import('pg').Pool): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('PostgreSQL did not answer within 2 s')), 2000)
  })
  try {
    await Promise.race([pool.query('SELECT 1'), timeout])
  } finally {
    clearTimeout(timer)
  }
}
