/**
 * @module Routes answered on Node's own request and response, before Hono sees the request. Only
 * for a hot path where the framework's per-request cost shows: POST /api/collect, and GET /live/poll
 * (a change answers every held poll in one turn: live/poll-node.ts). Measured with wrk
 * on this 2-core machine, a handler on node:http answered the same read + JSON.parse + 202 at about
 * 1.4x the requests/s of the same handler on Hono over @hono/node-server (28-29k vs 20.5-21k req/s;
 * the adapter builds a WHATWG Request and Response per request). Everything else goes through Hono.
 */
import type { Context } from 'hono'
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'

/** Must answer every request itself, errors included: nothing catches after it. */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => void

/** `'METHOD /path'` → handler. The query string is ignored when matching. */
export type NodeRoutes = Record<string, NodeHandler>

/** A header by lower-case name (the first value when repeated). */
export function headerOf(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name]
  return Array.isArray(v) ? v[0] : v
}

/** Node's request under a Hono handler on @hono/node-server; none under app.request() in unit tests. */
export function nodeRequestOf(c: Context): IncomingMessage | undefined {
  return (c.env as { incoming?: IncomingMessage } | undefined)?.incoming
}

/** `next` (Hono's listener) with `routes` answered first. */
export function withNodeRoutes(routes: NodeRoutes, next: RequestListener): RequestListener {
  const table = new Map(Object.entries(routes))
  if (table.size === 0) return next
  return (req, res) => {
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    const handler = table.get(`${req.method} ${q < 0 ? url : url.slice(0, q)}`)
    if (handler) handler(req, res)
    else next(req, res)
  }
}
