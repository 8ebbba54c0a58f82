/**
 * @module The one body reader: a request body with a size limit, from Node's IncomingMessage. The
 * beacon endpoint is served on Node's request directly (metrics/collect.ts); webhooks (ci/hooks.ts)
 * and custom metrics are Hono handlers on @hono/node-server, where the same reader skips the WHATWG
 * Request body stream that `c.req.text()` goes through.
 *
 * Over the limit, the reader settles at once (the caller answers 413 with `Connection: close`)
 * and what the client still sends is dropped unread into memory; the connection's lingering
 * close (http/connections.ts) lets the client finish writing and read that answer. A client that
 * goes away mid-body is ordinary: ClientGoneError, logged at debug level only.
 */
import type { Context } from 'hono'
import type { IncomingMessage } from 'node:http'
import { AppError, ClientGoneError } from '../errors.ts'
import { nodeRequestOf } from './node-routes.ts'

export const ABORTED = Symbol('aborted')

/**
 * The one body reader: the chunks handed to `finish` once the body ended; null when it is larger
 * than `limit` bytes (a declared length is checked before reading anything, a streamed one as it
 * arrives); ABORTED when the client went away first.
 */
function readNode<T>(
  req: IncomingMessage,
  limit: number,
  finish: (chunks: Buffer[]) => T
): Promise<T | null | typeof ABORTED> {
  const declared = req.headers['content-length']
  if (declared !== undefined && Number(declared) > limit) return Promise.resolve(null)
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    // Inline, not a named const: tsx (esbuild keepNames) wraps every named closure in a __name()
    // call, which showed in the beacon's profile at ~1.5 %.
    req.on('data', (chunk: Buffer) => {
      if (size > limit) return // over the limit: the rest is dropped unread into memory
      size += chunk.length
      if (size > limit) resolve(null)
      else chunks.push(chunk)
    })
    req.once('end', () => resolve(finish(chunks)))
    // After 'end' these settle nothing: a promise settles once.
    req.once('close', () => resolve(ABORTED))
    req.once('error', () => resolve(ABORTED))
  })
}

/** One chunk (a beacon's usual case) is used as it is, not copied by Buffer.concat. */
const joined = (chunks: Buffer[]): Buffer => (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks))
const asText = (chunks: Buffer[]): string => joined(chunks).toString('utf8')

/** The body as UTF-8 text (see readNode). */
export function readNodeBody(req: IncomingMessage, limit: number): Promise<string | null | typeof ABORTED> {
  return readNode(req, limit, asText)
}

/** The body's bytes (see readNode). */
export function readNodeBytes(req: IncomingMessage, limit: number): Promise<Buffer | null | typeof ABORTED> {
  return readNode(req, limit, joined)
}

/** In a Hono handler: the body's bytes, or null when it is larger than `limit` bytes. */
export async function readBodyBytes(c: Context, limit: number): Promise<Buffer | null> {
  const incoming = nodeRequestOf(c)
  if (!incoming) {
    // app.request() in unit tests: no Node request underneath.
    const bytes = Buffer.from(await c.req.arrayBuffer())
    return bytes.length > limit ? null : bytes
  }
  const body = await readNodeBytes(incoming, limit)
  if (body === ABORTED) throw new ClientGoneError()
  return body
}

/** In a Hono handler: the body as text, or null when it is larger than `limit` bytes. */
export async function readBody(c: Context, limit: number): Promise<string | null> {
  return (await readBodyBytes(c, limit))?.toString('utf8') ?? null
}

/** A 413 for a body over `limit`; the answer closes the connection (see errors.ts). */
export function tooLarge(limit: number): AppError {
  return new AppError('PAYLOAD_TOO_LARGE', `the body is larger than ${limit} bytes`)
}
