/**
 * @module Serves the built dashboard. Hashed assets are immutable; index.html is revalidated so an
 * upgrade reaches screens; a GET for an extension-less path gets index.html (client-side routes).
 * A file that is not there is a 404 that no cache keeps: after an upgrade an open screen still asks
 * for the old hashes, and index.html cached for a year under a script's name would break it.
 * Text files go out as the .br or .gz the build wrote beside them (web/build.ts), by Accept-Encoding.
 */
import { Hono } from 'hono'
import { serveStatic } from '@hono/node-server/serve-static'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Context, MiddlewareHandler } from 'hono'
import { errorBody } from '../errors.ts'
import { WEB_DIST } from './web-build.ts'
import { access } from '../access/guard.ts'

const IMMUTABLE = 'public, max-age=31536000, immutable'
const REVALIDATE = 'no-cache'
/** Types the build precompresses: their answer depends on Accept-Encoding, even when it is identity. */
const NEGOTIATED = /javascript|css|svg|json/

/**
 * Paths that name a file, never a client route. A closed list rather than "has a dot": client
 * routes carry dots too (`/sites/shop.example.com`).
 */
const FILE_EXTENSION =
  /\.(?:m?js|cjs|css|map|png|jpe?g|gif|webp|avif|svg|ico|woff2?|ttf|otf|eot|json|txt|xml|wasm|webmanifest|html?)$/i

export function staticRoutes(dist = WEB_DIST) {
  const app = new Hono()
  // Created on first use: the build may appear after start-up (tests, `npm run build`).
  let files: MiddlewareHandler | undefined
  const indexPath = join(dist, 'index.html')
  const missing =
    '<!doctype html><title>Radiator</title><p>The dashboard is not built yet: run <code>npm run build</code>.</p>'

  const fileNotFound = (c: Context) =>
    c.json(errorBody('NOT_FOUND', `no such file: ${c.req.path}`), 404, {
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    })

  /** The file at the request path with `cache`, or a 404 that is never cached. */
  const serveFile =
    (cache: string): MiddlewareHandler =>
    async (c) => {
      let found = true
      const res = await (files ??= serveStatic({ root: dist, precompressed: true }))(c, async () => {
        found = false
      })
      if (!found || !(res instanceof Response)) return fileNotFound(c)
      // A 416 (unsatisfiable range) says nothing worth keeping about the file.
      res.headers.set('cache-control', res.status === 200 || res.status === 206 ? cache : 'no-store')
      res.headers.set('x-content-type-options', 'nosniff')
      // serveStatic says Vary only when it picked a compressed file; the identity answer depends on
      // Accept-Encoding too, or a shared cache could keep it for everyone (or br for everyone).
      if (NEGOTIATED.test(res.headers.get('content-type') ?? '')) res.headers.set('vary', 'Accept-Encoding')
      return res
    }

  // The dashboard's code holds no data: it is what shows a signed-out screen its sign-in or pairing.
  app.get('/assets/*', access.public, serveFile(IMMUTABLE))
  // Not content-hashed: an upgrade may change it under the same name.
  app.get('/favicon.svg', access.public, serveFile(REVALIDATE))
  app.get('*', access.public, (c) => {
    if (FILE_EXTENSION.test(c.req.path)) return fileNotFound(c)
    const html = existsSync(indexPath) ? readFileSync(indexPath, 'utf8') : missing
    return c.html(html, 200, {
      'cache-control': REVALIDATE,
      // Its Content-Security-Policy is app-wide (app.ts), with FRAME_ANCESTORS.
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    })
  })
  return app
}
