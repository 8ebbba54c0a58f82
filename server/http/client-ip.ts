/** @module The client's address: the socket peer, or X-Forwarded-For's first hop when TRUST_PROXY is on. */
import type { Context } from 'hono'
import type { IncomingMessage } from 'node:http'
import { headerOf, nodeRequestOf } from './node-routes.ts'

/**
 * Behind a reverse proxy (TRUST_PROXY) it is the first X-Forwarded-For entry, the client as the
 * outermost proxy saw it; otherwise the socket's peer, as a client can write any X-Forwarded-For
 * it likes.
 */
export function clientIpOf(req: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const first = headerOf(req, 'x-forwarded-for')?.split(',', 1)[0]?.trim()
    if (first) return first
  }
  return req.socket.remoteAddress ?? 'unknown'
}

export function clientIp(c: Context, trustProxy: boolean): string {
  const req = nodeRequestOf(c)
  return req ? clientIpOf(req, trustProxy) : 'unknown'
}
