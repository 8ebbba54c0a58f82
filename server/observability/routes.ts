/** @module GET /metrics: the Prometheus text format, for viewers and METRICS_SCRAPE_TOKEN. */
import { Hono } from 'hono'
import { access } from '../access/guard.ts'
import type { Telemetry } from './telemetry.ts'

export function observabilityRoutes(telemetry: Telemetry) {
  const app = new Hono()
  app.get('/metrics', access.scrape, async (c) => {
    const { body, contentType } = await telemetry.scrape()
    return c.body(body, 200, { 'content-type': contentType, 'cache-control': 'no-store' })
  })
  return app
}
