/**
 * @module The metrics HTTP surface, mounted at /api: the beacon's collect endpoint (with CORS for
 * the sites' origins), sites and their summaries, and custom metrics. Handlers only translate
 * between HTTP and the modules that do the work.
 */
import { Hono, type Context } from 'hono'
import { getConnInfo } from '@hono/node-server/conninfo'
import { z } from 'zod'
import type { Config } from '../config.ts'
import { AppError, ERROR_STATUS, errorBody, zodMessage, type ErrorCode } from '../errors.ts'
import { requireBearer } from './auth.ts'
import { headerOf, readBody } from './request.ts'
import type { CustomMetrics } from './custom.ts'
import { Drop, type CollectRequest, type DropReason, type Ingest, type Outcome } from './pipeline.ts'
import type { Presence } from './presence.ts'
import type { Sites } from './sites.ts'
import type { Summaries } from './summary.ts'
import { customMetricsBody, DEVICES, WINDOWS } from './wire.ts'

export const COLLECT_LIMIT_BYTES = 16 * 1024
const METRICS_LIMIT_BYTES = 64 * 1024
const WINDOW_MS = { '5m': 300_000, '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000, '28d': 28 * 86_400_000 }

/** How each drop is answered: a bot gets a harmless 202 (Umami does the same), the rest an error. */
const DROP_ANSWER: Record<DropReason, ErrorCode | 'ACCEPTED'> = {
  too_large: 'PAYLOAD_TOO_LARGE',
  unsupported_type: 'UNSUPPORTED_MEDIA_TYPE',
  not_json: 'BAD_REQUEST',
  invalid: 'BAD_REQUEST',
  unknown_site: 'NOT_FOUND',
  bad_origin: 'FORBIDDEN',
  bot: 'ACCEPTED',
}

export interface MetricsRouteDeps {
  config: Config
  ingest: Ingest
  sites: Sites
  presence: Presence
  summaries: Summaries
  custom: CustomMetrics
  now: () => number
}

const summaryQuery = z.object({
  window: z.enum(WINDOWS).default('24h'),
  device: z.enum(DEVICES).optional(),
})

const metricsQuery = z.object({
  name: z.string().min(1).max(100).optional(),
  window: z.enum(WINDOWS).optional(),
})

export function metricsRoutes(d: MetricsRouteDeps) {
  const app = new Hono()

  const collectRequest = (c: Context, body: string): CollectRequest => ({
    contentType: headerOf(c, 'content-type'),
    body,
    origin: headerOf(c, 'origin'),
    userAgent: headerOf(c, 'user-agent'),
    ip: clientIp(c, d.config.TRUST_PROXY),
  })

  /**
   * 202, or the drop's answer; with CORS headers when the page's origin may read it. Headers go in
   * as one plain object: node-server then writes them straight out, where `c.header()` builds a
   * WHATWG Headers per response (measurable at beacon rates).
   */
  const answer = (c: Context, outcome: Outcome) => {
    const origin = headerOf(c, 'origin')
    const headers: Record<string, string> = {}
    if (origin && (outcome.site ? d.sites.originAllowed(origin, outcome.site) : d.sites.originAllowedForAny(origin))) {
      headers['access-control-allow-origin'] = origin
      headers.vary = 'Origin'
    }
    if (outcome.accepted) return c.body(null, 202, headers)
    const code = DROP_ANSWER[outcome.drop.reason]
    headers['x-radiator-dropped'] = outcome.drop.reason
    if (code === 'ACCEPTED') return c.body(null, 202, headers)
    return c.json(errorBody(code, outcome.drop.message, { reason: outcome.drop.reason }), ERROR_STATUS[code], headers)
  }

  // fetch() with application/json is preflighted; sendBeacon's text/plain is not.
  app.options('/collect', (c) => {
    const origin = c.req.header('origin')
    if (!d.sites.originAllowedForAny(origin)) throw new AppError('FORBIDDEN', 'this Origin may not report to any site')
    return c.body(null, 204, {
      'access-control-allow-origin': origin!,
      'access-control-allow-methods': 'POST',
      'access-control-allow-headers': 'content-type',
      'access-control-max-age': '86400',
      vary: 'Origin',
    })
  })

  app.post('/collect', async (c) => {
    const body = await readBody(c, COLLECT_LIMIT_BYTES)
    if (body === null) return answer(c, d.ingest.dropped(new Drop('too_large', `the body is larger than ${COLLECT_LIMIT_BYTES} bytes`)))
    return answer(c, await d.ingest.run(collectRequest(c, body)))
  })

  app.get('/sites', (c) =>
    c.json({
      sites: d.sites.list.map((site) => ({ site, ...d.presence.counts(site) })),
      collect: d.ingest.stats,
    })
  )

  app.get('/sites/:site/summary', (c) => {
    const site = c.req.param('site').toLowerCase()
    if (!d.sites.has(site)) throw new AppError('NOT_FOUND', `unknown site ${JSON.stringify(site)}`)
    const q = summaryQuery.parse(c.req.query())
    return c.json(d.summaries.summary(site, q.window, q.device ?? null), 200, { 'cache-control': 'no-store' })
  })

  app.post('/metrics', async (c) => {
    requireBearer(c.req.header('authorization'), d.config.METRICS_TOKEN, 'METRICS_TOKEN')
    const body = await readBody(c, METRICS_LIMIT_BYTES)
    if (body === null) throw new AppError('PAYLOAD_TOO_LARGE', `the body is larger than ${METRICS_LIMIT_BYTES} bytes`)
    const parsed = customMetricsBody.safeParse(parseJson(body))
    if (!parsed.success) throw new AppError('BAD_REQUEST', zodMessage(parsed.error))
    const points = await d.custom.push(Array.isArray(parsed.data) ? parsed.data : [parsed.data])
    return c.json({ stored: points.length, metrics: points }, 202)
  })

  app.get('/metrics', (c) => {
    const q = metricsQuery.parse(c.req.query())
    if (!q.name) {
      if (q.window) throw new AppError('BAD_REQUEST', 'window needs a name: /api/metrics?name=<metric>&window=1h')
      return c.json({ metrics: d.custom.latestByName() })
    }
    const window = q.window ?? '24h'
    return c.json({ name: q.name, window, points: d.custom.series(q.name, d.now() - WINDOW_MS[window]) })
  })

  return app
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    throw new AppError('BAD_REQUEST', 'the body is not valid JSON')
  }
}

/**
 * The client address the visitor id is derived from. Behind a reverse proxy (TRUST_PROXY) it is
 * the first X-Forwarded-For entry, the client as the outermost proxy saw it; otherwise the socket's
 * peer, as a client can write any X-Forwarded-For it likes.
 */
function clientIp(c: Context, trustProxy: boolean): string {
  if (trustProxy) {
    const first = headerOf(c, 'x-forwarded-for')?.split(',', 1)[0]?.trim()
    if (first) return first
  }
  // Outside @hono/node-server (app.request in tests) there is no socket.
  return c.env?.incoming ? (getConnInfo(c).remote.address ?? '') : ''
}
