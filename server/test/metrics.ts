/**
 * @module Test helpers for the metrics capability: a real server with a movable clock and short
 * push intervals, and a beacon poster that looks like the snippet in a browser.
 */
import { afterEach } from 'vitest'
import type { ConfigVar } from '../config.ts'
import { startTestServer, tempDir, WsTestClient, type TestServer } from './harness.ts'
import { createMetricsCapability, type MetricsOptions } from '../metrics/index.ts'
import type { RunningServer } from '../server.ts'
import type { BeaconEvent } from '../../contract/metrics.ts'

export const SITE = 'shop.example.com'
export const ORIGIN = `https://${SITE}`
export const BROWSER_UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36'

/** A clock tests move by hand; starts at `start` (ms). */
export function testClock(start: number) {
  let t = start
  return {
    now: () => t,
    set: (ms: number) => void (t = ms),
    advance: (ms: number) => void (t += ms),
  }
}

/** A real Radiator with only the metrics capability, its clock and intervals under the test's control. */
export async function startMetricsServer(
  env: Partial<Record<ConfigVar, string>> = {},
  opts: MetricsOptions = {},
  dataDir = tempDir()
): Promise<TestServer> {
  return startTestServer({ SITES: SITE, ...env }, dataDir, [createMetricsCapability({ rollEveryMs: 50, ...opts })])
}

/**
 * For one test file: `server()` starts metrics servers and `ws()` opens live clients, all closed
 * after each test.
 */
export function metricsFixtures() {
  const servers: TestServer[] = []
  const clients: WsTestClient[] = []
  afterEach(async () => {
    clients.splice(0).forEach((c) => c.close())
    await Promise.all(servers.splice(0).map((s) => s.destroy()))
  })
  return {
    async server(...args: Parameters<typeof startMetricsServer>) {
      const s = await startMetricsServer(...args)
      servers.push(s)
      return s
    },
    ws(s: TestServer, q = '') {
      const c = new WsTestClient(`${s.url.replace('http', 'ws')}/live${q}`)
      clients.push(c)
      return c
    },
  }
}

export interface PostOptions {
  site?: string
  width?: number
  origin?: string | null
  ua?: string | null
  ip?: string
  contentType?: string
}

/** POSTs a beacon body to /api/collect as the snippet does (text/plain, the page's Origin). */
export function postBeacon(base: string, events: BeaconEvent[], o: PostOptions = {}): Promise<Response> {
  const body = JSON.stringify({ site: o.site ?? SITE, width: o.width ?? 1280, events })
  return postRaw(base, body, o)
}

export function postRaw(base: string, body: string, o: PostOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': o.contentType ?? 'text/plain;charset=UTF-8' }
  if (o.origin !== null) headers.origin = o.origin ?? ORIGIN
  if (o.ua !== null) headers['user-agent'] = o.ua ?? BROWSER_UA
  if (o.ip) headers['x-forwarded-for'] = o.ip
  return fetch(`${base}/api/collect`, { method: 'POST', body, headers })
}

/**
 * Rows of a read on the test server's store, SQLite or PostgreSQL: SQL both dialects read alike. A
 * count as `CAST(… AS INTEGER)` and a 64-bit column (a time in ms) as `CAST(… AS DOUBLE PRECISION)`:
 * PostgreSQL answers those as numbers (a bigint comes back as a string).
 */
export async function rowsOf<T = Record<string, unknown>>(s: RunningServer, sql: string): Promise<T[]> {
  const e = s.engine
  if (e.kind === 'sqlite') return e.store.sqlite.prepare(sql).all() as T[]
  return (await e.store.pool.query(sql)).rows as T[]
}

/** Rows in `table` now. */
export async function countOf(s: RunningServer, table: string): Promise<number> {
  return (await rowsOf<{ n: number }>(s, `SELECT CAST(count(*) AS INTEGER) AS n FROM ${table}`))[0]!.n
}

export async function json<T = any>(res: Response | Promise<Response>): Promise<T> {
  return (await (await res).json()) as T
}

/** Like the harness's `until`, for a predicate that needs to await (an HTTP read). */
export async function eventually(pred: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
