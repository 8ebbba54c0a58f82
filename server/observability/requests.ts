/**
 * @module Per-request observability for the Hono app: a request id (Hono's `requestId`, echoed as
 * `X-Request-Id` and as `requestId` in every JSON error body), the request counted and timed by
 * its route pattern, and one log line per request — every error, successes sampled at volume.
 * POST /api/collect never reaches Hono: it is counted (telemetry.nodeRoute), not logged. GET
 * /live/poll never reaches it either: counted the same way, logged by the same policy (requestLines).
 */
import type { Context, MiddlewareHandler } from 'hono'
import { requestId } from 'hono/request-id'
import { matchedRoutes } from 'hono/route'
import { APP_WIDE } from '../access/guard.ts'
import type { Logger } from '../log.ts'
import type { Telemetry } from './telemetry.ts'

export interface RequestLogOptions {
  log: Logger
  telemetry: Telemetry
  /** Successes logged in full per second; past that, `sampleRate` of them. */
  successPerSecond: number
  sampleRate: number
  random?: () => number
}

const REQUEST_ID_MAX = 100

/** Accepts a proxy's id when it is short and plain (it ends up in log lines), else makes one. */
export function requestIds(): MiddlewareHandler {
  return Object.assign(requestId({ limitLength: REQUEST_ID_MAX }), { [APP_WIDE]: true })
}

/** The same choice for a route answered outside Hono: the client's X-Request-Id by Hono's rule, else a new one. */
export function requestIdFrom(header: string | undefined): string {
  return header && header.length <= REQUEST_ID_MAX && !/[^\w\-=]/.test(header) ? header : crypto.randomUUID()
}

/** What one answered request is logged with. */
export interface RequestLine {
  method: string
  route: string
  status: number
  seconds: number
  /** The client left before its answer. */
  gone: boolean
}

/**
 * Logs one answered request by the policy every route shares: every error, successes in full up to
 * `successPerSecond` a second and `sampleRate` of them past that. Also used by the routes answered
 * outside Hono (the long poll, live/poll-node.ts). `requestId` is read only for a line that is written.
 */
export function requestLines(o: Omit<RequestLogOptions, 'telemetry'>) {
  const random = o.random ?? Math.random
  let second = 0
  let inSecond = 0
  const sampled = (): number | null => {
    const s = Math.floor(Date.now() / 1000)
    if (s !== second) {
      second = s
      inSecond = 0
    }
    if (++inSecond <= o.successPerSecond) return 1
    return random() < o.sampleRate ? o.sampleRate : null
  }
  return function logRequest(r: RequestLine, requestId: () => string): void {
    const { status, gone } = r
    const rate = status < 400 && !gone ? sampled() : 1
    if (rate === null) return
    const fields: Record<string, unknown> = {
      requestId: requestId(),
      method: r.method,
      route: r.route,
      status,
      durationMs: Math.round(r.seconds * 10_000) / 10,
      outcome: gone ? 'client_gone' : status >= 500 ? 'server_error' : status >= 400 ? 'client_error' : 'ok',
    }
    if (rate < 1) fields.sampled = rate
    // A client that left mid-request is ordinary internet life: logged, but quietly.
    if (gone) o.log.debug('request', fields)
    // 503 is a deliberate answer (disk refusing writes, shutting down, live slots full): a warning.
    else if (status >= 500 && status !== 503) o.log.error('request', fields)
    else if (status >= 400) o.log.warn('request', fields)
    else o.log.info('request', fields)
  }
}

export function requestLog(o: RequestLogOptions): MiddlewareHandler {
  const line = requestLines(o)
  const mw: MiddlewareHandler = async function requestLog(c, next) {
    const start = performance.now()
    await next()
    const seconds = (performance.now() - start) / 1000
    const id = c.get('requestId' as never) as string
    const route = routeOf(c)
    // An accepted WebSocket upgrade is answered 200 to the adapter, which then sends the 101.
    const status = c.res.status === 200 && c.req.header('upgrade')?.toLowerCase() === 'websocket' ? 101 : c.res.status
    o.telemetry.request(c.req.method, route, status, seconds)
    if (status >= 400) await withRequestId(c, id)
    line({ method: c.req.method, route, status, seconds, gone: c.req.raw.signal.aborted }, () => id)
  }
  return Object.assign(mw, { [APP_WIDE]: true })
}

/**
 * The pattern of the route that answered (`/api/builds/:id`), never the raw path. An answer from
 * app-wide middleware (a CSRF refusal) or from no route at all (404) is named by the last route
 * that matched, which is a pattern too (`/api/*`, the dashboard's `/*`).
 */
export function routeOf(c: Context): string {
  const routes = matchedRoutes(c)
  const here = routes[c.req.routeIndex]
  if (here && !(here.handler as unknown as Record<symbol, unknown>)[APP_WIDE]) return here.path
  return routes.at(-1)?.path ?? 'unmatched'
}

/**
 * Error bodies answered without the error handler (a webhook's 401, a feed's 400) get the request
 * id too; only error answers are read back, and they are small JSON objects.
 */
async function withRequestId(c: Context, id: string): Promise<void> {
  const res = c.res
  if (!res.headers.get('content-type')?.startsWith('application/json')) return
  const body: unknown = await res
    .clone()
    .json()
    .catch(() => null)
  if (!body || typeof body !== 'object' || Array.isArray(body) || 'requestId' in body || !('code' in body)) return
  const headers = new Headers(res.headers)
  headers.delete('content-length')
  c.res = undefined
  c.res = new Response(JSON.stringify({ ...body, requestId: id }), {
    status: res.status,
    statusText: res.statusText,
    headers,
  })
}
