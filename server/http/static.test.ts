import { readdirSync, readFileSync } from 'node:fs'
import http from 'node:http'
import { join } from 'node:path'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestServer, type TestServer } from '../test/harness.ts'
import { WEB_DIST } from './web-build.ts'

let s: TestServer
beforeAll(async () => {
  s = await startTestServer()
})
afterAll(() => s.destroy())

/** A hashed script of the current build (the suite's global setup builds the dashboard). */
const realScript = () => readdirSync(join(WEB_DIST, 'assets')).find((f) => f.endsWith('.js'))!

function expectUncachedNotFound(res: Response, path: string) {
  expect(res.status, path).toBe(404)
  expect(res.headers.get('cache-control'), path).toBe('no-store')
  expect(res.headers.get('x-content-type-options'), path).toBe('nosniff')
  expect(res.headers.get('content-type'), path).not.toMatch(/html/)
}

describe('the dashboard files', () => {
  it('serves a hashed asset that exists as immutable, with its type and nosniff', async () => {
    const res = await fetch(`${s.url}/assets/${realScript()}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/javascript/)
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    await res.arrayBuffer()
  })

  it.each([
    // What a screen opened before an upgrade asks for.
    '/assets/index-0ldHa5h.js',
    '/assets/index-0ldHa5h.css',
    '/assets/index-0ldHa5h.js.map',
    '/assets/',
    '/assets/nested/dir/font.woff2',
    '/assets/no-extension',
  ])('answers a missing asset %s with a 404 that no cache keeps', async (path) => {
    const res = await fetch(`${s.url}${path}`)
    expectUncachedNotFound(res, path)
    expect(await res.json()).toMatchObject({ code: 'NOT_FOUND' })
  })

  it.each([
    '/main.js',
    '/styles.css',
    '/logo.png',
    '/icon.svg',
    '/favicon.ico',
    '/manifest.json',
    '/robots.txt',
    '/fonts/x.woff2',
    '/x.js.map',
    '/pipelines/abc/app.js',
  ])('answers a missing file outside assets %s with a 404, not the page', async (path) => {
    expectUncachedNotFound(await fetch(`${s.url}${path}`), path)
  })

  it('answers HEAD for a missing asset with the same uncached 404', async () => {
    expectUncachedNotFound(await fetch(`${s.url}/assets/index-0ldHa5h.js`, { method: 'HEAD' }), 'HEAD')
  })

  it.each([
    '/',
    '/pipelines/3f2a9c0d1e4b5a6f',
    '/sites',
    '/sites/shop.example.com',
    '/sites/docs.demo.test?window=1h',
    '/custom-metrics',
    '/tv',
  ])('serves the page for the client route %s, revalidated', async (path) => {
    const res = await fetch(`${s.url}${path}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/text\/html/)
    expect(res.headers.get('cache-control')).toBe('no-cache')
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    expect(await res.text()).toMatch(/<!doctype html>/i)
  })

  it('serves the favicon revalidated, since its name carries no hash', async () => {
    const res = await fetch(`${s.url}/favicon.svg`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/image\/svg\+xml/)
    expect(res.headers.get('cache-control')).toBe('no-cache')
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    await res.arrayBuffer()
  })

  // fetch() decodes on its own and drops the header's meaning: node:http shows the wire.
  const getRaw = (path: string, acceptEncoding?: string) =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const headers: Record<string, string> = acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding }
      http
        .get(`${s.url}${path}`, { headers }, (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }))
        })
        .on('error', reject)
    })

  it.each([
    ['gzip, deflate, br', 'br', brotliDecompressSync],
    ['gzip', 'gzip', gunzipSync],
    [undefined, undefined, (b: Buffer) => b],
    ['identity', undefined, (b: Buffer) => b],
  ])('sends the script as Accept-Encoding %s asks, the same bytes once decoded', async (accept, encoding, decode) => {
    const file = realScript()
    const onDisk = readFileSync(join(WEB_DIST, 'assets', file))
    const res = await getRaw(`/assets/${file}`, accept)
    expect(res.status).toBe(200)
    expect(res.headers['content-encoding']).toBe(encoding)
    expect(res.headers.vary).toBe('Accept-Encoding')
    expect(res.headers['content-type']).toMatch(/javascript/)
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable')
    expect(Number(res.headers['content-length'])).toBe(res.body.length)
    if (encoding) expect(res.body.length).toBeLessThan(onDisk.length / 2)
    expect(decode(res.body).equals(onDisk)).toBe(true)
  })
})
