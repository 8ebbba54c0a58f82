/**
 * @module What happens to a connection once it has its answer: every request gets an answer or a
 * close, and a refused body still gets its answer read by the client (lingering close).
 */
import { STATUS_CODES, type IncomingMessage, type RequestListener, type Server } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Socket } from 'node:net'
import { errorBody, type ErrorCode, ERROR_STATUS } from '../errors.ts'

/**
 * How long a connection we close keeps reading (and discarding) what its client still sends. A
 * refused body (413) is answered at once; closing the socket with the client's bytes unread would
 * make the kernel send a reset, which discards our answer on the client side before it is read.
 */
export const LINGER_MS = 5_000

/**
 * Node closes a connection after an answer with `Connection: close` by `socket.destroySoon()`
 * (end, then destroy once our FIN is written). This replaces it on the server's sockets with a
 * lingering close: FIN now, destroy when the client's FIN arrives (both sides ended) or after
 * LINGER_MS. Meanwhile the HTTP parser keeps consuming the rest of the refused body and drops it.
 */
export function lingerOnClose(server: Server): void {
  server.on('connection', (socket: Socket) => {
    socket.destroySoon = lingeringClose
  })
}

function lingeringClose(this: Duplex): void {
  if (this.destroyed) return
  if (this.writable) this.end()
  if (lingering.has(this)) return
  lingering.add(this)
  const timer = setTimeout(() => this.destroy(), LINGER_MS)
  timer.unref()
  this.once('close', () => {
    clearTimeout(timer)
    lingering.delete(this)
  })
}
const lingering = new WeakSet<Duplex>()

/**
 * Node hands every request with `Connection: Upgrade` to the server's 'upgrade' listeners and
 * then forgets its socket. @hono/node-server's listener only takes `Upgrade: websocket` and
 * silently returns on anything else (h2c, …), which left the socket open and unanswered forever.
 * This puts one listener in front: a WebSocket upgrade to `wsPath` goes to the adapter (which
 * answers or rejects it itself, since it is then the only listener); every other upgrade gets a
 * short error with `Connection: close`, and its socket is closed.
 */
export function answerUpgrades(server: Server, wsPath: string): void {
  const adapter = server.listeners('upgrade') as ((req: IncomingMessage, socket: Duplex, head: Buffer) => void)[]
  server.removeAllListeners('upgrade')
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const protocol = (req.headers.upgrade ?? '').trim()
    if (protocol.toLowerCase() === 'websocket' && pathOf(req.url) === wsPath && adapter.length > 0) {
      for (const l of adapter) l.call(server, req, socket, head)
      return
    }
    if (protocol.toLowerCase() === 'websocket')
      return refuseUpgrade(socket, 'NOT_FOUND', `no WebSocket endpoint at this path; the live stream is at ${wsPath}`)
    refuseUpgrade(
      socket,
      'BAD_REQUEST',
      `Upgrade: ${protocol.slice(0, 40) || '(empty)'} is not supported; send the request without an Upgrade header (only ${wsPath} upgrades, to websocket)`
    )
  })
}

/** A plain HTTP/1.1 error on a socket Node no longer manages, then a lingering close. */
export function refuseUpgrade(socket: Duplex, code: ErrorCode, message: string): void {
  // The socket is ours alone now; without a listener a client's reset would throw.
  socket.on('error', () => socket.destroy())
  if (socket.destroyed) return
  const body = JSON.stringify(errorBody(code, message))
  const status = ERROR_STATUS[code]
  socket.write(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  )
  // No parser reads this socket any more: what the client still sends is read here and dropped.
  socket.resume()
  lingeringClose.call(socket)
}

/**
 * `Upgrade: websocket` without `Connection: Upgrade` is not an upgrade to Node, so it reaches the
 * WebSocket route as a plain request, where the adapter's upgradeWebSocket answers 500. Say what
 * is missing instead.
 */
export function withPlainUpgradeRefused(wsPath: string, next: RequestListener): RequestListener {
  return (req, res) => {
    if (req.headers.upgrade?.trim().toLowerCase() === 'websocket' && pathOf(req.url) === wsPath) {
      const body = JSON.stringify(errorBody('BAD_REQUEST', 'a WebSocket upgrade needs the header Connection: Upgrade'))
      res.writeHead(400, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body)
      return
    }
    next(req, res)
  }
}

function pathOf(url: string | undefined): string | null {
  try {
    return new URL(url ?? '/', 'http://localhost').pathname
  } catch {
    return null
  }
}
