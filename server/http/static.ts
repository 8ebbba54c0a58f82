/**
 * @module Serves the built dashboard. Hashed assets are immutable; index.html is revalidated so an
 * upgrade reaches screens; every other GET that wants HTML gets index.html (client-side routes).
 */
import { Hono } from 'hono'
import { serveStatic } from '@hono/node-server/serve-static'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { MiddlewareHandler } from 'hono'
import { WEB_DIST } from './web-build.ts'

export function staticRoutes(dist = WEB_DIST) {
  const app = new Hono()
  // Created on first use: the build may appear after start-up (tests, `npm run build`).
  let files: MiddlewareHandler | undefined
  const serveFiles: MiddlewareHandler = (c, next) => (files ??= serveStatic({ root: dist }))(c, next)
  const indexPath = join(dist, 'index.html')
  const missing =
    '<!doctype html><title>Radiator</title><p>The dashboard is not built yet: run <code>npm run build</code>.</p>'

  app.use(
    '/assets/*',
    async (c, next) => {
      await next()
      if (c.res.status === 200) c.header('cache-control', 'public, max-age=31536000, immutable')
    },
    serveFiles
  )
  app.get('/favicon.svg', serveFiles)
  app.get('*', (c) => {
    const html = existsSync(indexPath) ? readFileSync(indexPath, 'utf8') : missing
    return c.html(html, 200, {
      'cache-control': 'no-cache',
      // The page loads nothing from elsewhere (a TV may have no internet); say so to the browser.
      'content-security-policy':
        "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'",
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    })
  })
  return app
}
