/**
 * @module The metrics HTTP surface, mounted at /api: the collect endpoint's CORS preflight (its
 * POST is answered before Hono, in collect.ts), sites and their summaries, and custom metrics.
 * Handlers only translate between HTTP and the modules that do the work.
 */
import { Hono } from 'hono'
import { z } from 'zod'
import type { Config } from '../config.ts'
import { AppError, zodMessage } from '../errors.ts'
import { readBody, tooLarge } from '../http/body.ts'
import type { CustomMetrics } from './custom.ts'
import type { SummarySource } from './live-push.ts'
import type { PgCustomMetrics } from './pg-custom.ts'
import type { Ingest } from './pipeline.ts'
import type { Presence } from './presence.ts'
import type { Sites } from './sites.ts'
import { customMetricsBody, DEVICES, LIVE_WINDOW, type SummaryWindow, WINDOWS } from '../../contract/metrics.ts'
import { access } from '../access/guard.ts'
import { slidingFrom } from './windows.ts'

const METRICS_LIMIT_BYTES = 64 * 1024
/** A custom metric's series without ?window=: the last 24 h, sliding (not LIVE_WINDOW's 24 hourly periods). */
const SERIES_WINDOW: SummaryWindow = '24h'

export interface MetricsRouteDeps {
  config: Config
  ingest: Ingest
  sites: Sites
  presence: Presence
  summaries: SummarySource
  custom: CustomMetrics | PgCustomMetrics
  now: () => number
}

const summaryQuery = z.object({
  window: z.enum(WINDOWS).default(LIVE_WINDOW),
  device: z.enum(DEVICES).optional(),
})

const metricsQuery = z.object({
  name: z.string().min(1).max(100).optional(),
  window: z.enum(WINDOWS).optional(),
})

export function metricsRoutes(d: MetricsRouteDeps) {
  const app = new Hono()

  // POST /collect is answered before Hono, in collect.ts. fetch() with application/json is
  // preflighted; sendBeacon's text/plain is not.
  app.options('/collect', access.public, (c) => {
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

  app.get('/sites', access.viewer, (c) =>
    c.json({
      sites: d.sites.list.map((site) => ({ site, ...d.presence.counts(site) })),
      collect: d.ingest.stats,
    })
  )

  app.get('/sites/:site/summary', access.viewer, async (c) => {
    const site = c.req.param('site').toLowerCase()
    if (!d.sites.has(site)) throw new AppError('NOT_FOUND', `unknown site ${JSON.stringify(site)}`)
    const q = summaryQuery.parse(c.req.query())
    return c.json(await d.summaries.summary(site, q.window, q.device ?? null), 200, { 'cache-control': 'no-store' })
  })

  // A metrics-push token (or METRICS_TOKEN, or an admin's).
  app.post('/metrics', access.push, async (c) => {
    const body = await readBody(c, METRICS_LIMIT_BYTES)
    if (body === null) throw tooLarge(METRICS_LIMIT_BYTES)
    const parsed = customMetricsBody.safeParse(parseJson(body))
    if (!parsed.success) throw new AppError('BAD_REQUEST', zodMessage(parsed.error))
    const points = await d.custom.push(Array.isArray(parsed.data) ? parsed.data : [parsed.data])
    return c.json({ stored: points.length, metrics: points }, 202)
  })

  app.get('/metrics', access.viewer, async (c) => {
    const q = metricsQuery.parse(c.req.query())
    if (!q.name) {
      if (q.window) throw new AppError('BAD_REQUEST', 'window needs a name: /api/metrics?name=<metric>&window=1h')
      return c.json({ metrics: d.custom.latestByName() })
    }
    // A series is the window as a sliding span back from now (a summary's is whole periods).
    const window = q.window ?? SERIES_WINDOW
    return c.json({ name: q.name, window, points: await d.custom.series(q.name, slidingFrom(window, d.now())) })
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
