/**
 * @module GET /beacon.js: the built snippet (web/dist/beacon.js), read once per build and kept in
 * memory with its gzip and ETag. The URL is not content-hashed (sites embed it), so it is cached for
 * a day and revalidated by ETag after that, rather than marked immutable.
 */
import { Hono } from 'hono'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { AppError } from '../errors.ts'
import { WEB_DIST } from '../http/web-build.ts'
import { access } from '../access/guard.ts'

export const BEACON_PATH = join(WEB_DIST, 'beacon.js')

interface Built {
  mtime: number
  body: Buffer
  gzip: Buffer
  etag: string
}

export function beaconRoutes(path = BEACON_PATH) {
  let built: Built | undefined

  const load = (): Built => {
    if (!existsSync(path)) throw new AppError('UNAVAILABLE', 'beacon.js is not built yet: run `npm run build`')
    const mtime = statSync(path).mtimeMs
    if (built?.mtime !== mtime) {
      const body = readFileSync(path)
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`
      built = { mtime, body, gzip: gzipSync(body, { level: 9 }), etag }
    }
    return built
  }

  const app = new Hono()
  app.get('/beacon.js', access.public, (c) => {
    const b = load()
    const headers: Record<string, string> = {
      'content-type': 'text/javascript; charset=utf-8',
      'cache-control': 'public, max-age=86400, stale-while-revalidate=604800',
      etag: b.etag,
      vary: 'Accept-Encoding',
      // Sites on other origins load it, including those that set Cross-Origin-Embedder-Policy.
      'cross-origin-resource-policy': 'cross-origin',
      'x-content-type-options': 'nosniff',
    }
    const inm = c.req.header('if-none-match')
    if (inm?.split(',').some((t) => t.trim().replace(/^W\//, '') === b.etag)) return c.body(null, 304, headers)
    if (/\bgzip\b/.test(c.req.header('accept-encoding') ?? ''))
      return c.body(new Uint8Array(b.gzip), 200, { ...headers, 'content-encoding': 'gzip' })
    return c.body(new Uint8Array(b.body), 200, headers)
  })
  return app
}
