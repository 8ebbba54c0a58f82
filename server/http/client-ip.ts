/** @module The client's address: the socket peer, or X-Forwarded-For's first hop when TRUST_PROXY is on. */
import type { Context } from 'hono'
import { getConnInfo } from '@hono/node-server/conninfo'

export function clientIp(c: Context, trustProxy: boolean): string {
  if (trustProxy) {
    const xff = c.req.header('x-forwarded-for')
    const first = xff?.split(',')[0]?.trim()
    if (first) return first
  }
  try {
    return getConnInfo(c).remote.address ?? 'unknown'
  } catch {
    // app.request() in unit tests has no socket.
    return 'unknown'
  }
}
