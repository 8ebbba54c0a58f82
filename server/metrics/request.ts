/**
 * @module Reading the beacon's request cheaply. On @hono/node-server the headers are read from
 * Node's own parsed IncomingMessage and the body through the adapter's direct path: hono's
 * bodyLimit middleware would build a full WHATWG Request and `c.req.header()` a WHATWG Headers per
 * call, which together measured as the largest costs of a beacon after the COMMIT itself.
 */
import type { Context } from 'hono'
import type { IncomingMessage } from 'node:http'

/** A header by lower-case name (the first value when repeated). */
export function headerOf(c: Context, name: string): string | undefined {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming
  if (!incoming) return c.req.header(name)
  const v = incoming.headers[name]
  return Array.isArray(v) ? v[0] : v
}

/** The body as text, or null when it is larger than `limit` bytes. */
export async function readBody(c: Context, limit: number): Promise<string | null> {
  const declared = headerOf(c, 'content-length')
  if (declared !== undefined && headerOf(c, 'transfer-encoding') === undefined) {
    // Node's HTTP parser delivers exactly Content-Length bytes, so the check up front suffices.
    return Number(declared) > limit ? null : c.req.text()
  }
  const body = c.req.raw.body
  if (!body) return ''
  const reader = body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > limit) {
      await reader.cancel().catch(() => {})
      return null
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks).toString('utf8')
}
