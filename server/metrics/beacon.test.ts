import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { ROOT } from '../http/web-build.ts'
import { startTestServer, type TestServer } from '../test/harness.ts'
import { BEACON_PATH, beaconRoutes } from './beacon-file.ts'

const BUDGET_BYTES = 3 * 1024

let s: TestServer
beforeAll(async () => {
  // The suite's global setup builds web/dist when stale; build the beacon alone if it is missing.
  if (!existsSync(BEACON_PATH)) {
    const { build } = await import('vite')
    await build({ configFile: join(ROOT, 'web', 'vite.beacon.config.ts'), logLevel: 'warn' })
  }
  s = await startTestServer()
})
afterAll(() => s?.destroy())

describe('the beacon script', () => {
  it(`fits in ${BUDGET_BYTES} bytes gzipped, web-vitals included`, () => {
    const built = readFileSync(BEACON_PATH)
    const gz = gzipSync(built, { level: 9 }).length
    expect(gz).toBeLessThanOrEqual(BUDGET_BYTES)
    // web-vitals is bundled in, not fetched from a CDN.
    expect(built.toString()).toContain('largest-contentful-paint')
  })

  it('uses no cookies and no storage', () => {
    const code = readFileSync(BEACON_PATH, 'utf8')
    for (const api of ['document.cookie', 'localStorage', 'sessionStorage', 'indexedDB'])
      expect(code).not.toContain(api)
  })

  it('is served at /beacon.js with long-lived caching and an ETag', async () => {
    const res = await fetch(`${s.url}/beacon.js`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    expect(res.headers.get('cache-control')).toMatch(/public, max-age=\d{5,}/)
    expect(res.headers.get('etag')).toMatch(/^"[\w-]+"$/)
    expect(await res.text()).toBe(readFileSync(BEACON_PATH, 'utf8'))
  })

  it('answers 304 to a revalidation with the same ETag', async () => {
    const etag = (await fetch(`${s.url}/beacon.js`)).headers.get('etag')!
    const res = await fetch(`${s.url}/beacon.js`, { headers: { 'if-none-match': etag } })
    expect(res.status).toBe(304)
    expect(res.headers.get('etag')).toBe(etag)
  })

  it('is sent gzipped to clients that accept it', async () => {
    const res = await fetch(`${s.url}/beacon.js`, { headers: { 'accept-encoding': 'gzip' } })
    expect(res.headers.get('content-encoding')).toBe('gzip')
    expect(await res.text()).toBe(readFileSync(BEACON_PATH, 'utf8'))
  })

  it('answers 503 with a hint when the beacon is not built', async () => {
    const res = await beaconRoutes(join(ROOT, 'no-such-dir', 'beacon.js')).request('/beacon.js')
    expect(res.status).toBe(503)
    expect(await res.text()).toContain('npm run build')
  })
})
