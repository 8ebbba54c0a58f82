/** @module The client's address: the socket peer, or the last X-Forwarded-For entry (our proxy's) when TRUST_PROXY is on. */
import type { Context } from 'hono'
import type { IncomingMessage } from 'node:http'
import { nodeRequestOf } from './node-routes.ts'

/**
 * Behind a reverse proxy (TRUST_PROXY) it is the last X-Forwarded-For entry: the address our own
 * proxy appended for the peer it saw. Entries before it were written by the client (or proxies we
 * know nothing of) and can be anything — taking the first would let anyone pick the address their
 * rate limits and connection caps are counted under. Without TRUST_PROXY, the socket's peer.
 */
export function clientIpOf(req: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    // Repeated headers arrive joined with ', ' by Node; the last entry is still the proxy's.
    const all = req.headers['x-forwarded-for']
    const joined = Array.isArray(all) ? all.join(',') : all
    const last = joined?.slice(joined.lastIndexOf(',') + 1).trim()
    if (last) return last
  }
  return req.socket.remoteAddress ?? 'unknown'
}

export function clientIp(c: Context, trustProxy: boolean): string {
  const req = nodeRequestOf(c)
  return req ? clientIpOf(req, trustProxy) : 'unknown'
}
