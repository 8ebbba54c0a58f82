/**
 * @module The WebSocket transport. Every frame is framed once (RFC 6455 header + payload, one
 * buffer) and that buffer is written to every client's socket: server frames are unmasked, so the
 * same bytes serve every client. A fresh snapshot is sent compressed (permessage-deflate, RFC 7692)
 * to a client that negotiated it, its shared state compressed once per head. A client that falls
 * more than its buffer behind on the live stream is closed with 1013 (try again later) instead of
 * letting server memory grow, and one that stops answering pings is terminated.
 */
import type { Duplex } from 'node:stream'
import { type WebSocket, WebSocketServer } from 'ws'
import type { CatchUpClient } from './catch-up.ts'
import type { ClientMeta } from './clients.ts'
import { DEFLATE_MIN_BYTES, deflateSegment, tailSegment } from './deflate.ts'
import type { Frame, Heartbeat, Serialized } from './frame.ts'
import { SendBudget } from './send-budget.ts'
import type { Topics } from './topics.ts'

/** After a close frame is queued, how long a peer that is not reading gets before the socket is destroyed. */
const CLOSE_GRACE_MS = 5000

/** The server side of /live (its `upgrade` handling is in server.ts / http/connections.ts). */
export function liveWebSocketServer(): WebSocketServer {
  return new WebSocketServer({
    noServer: true,
    // Inbound WebSocket messages are not used; a small cap keeps a hostile peer from sending big frames.
    maxPayload: 64 * 1024,
    // Offered so a fresh snapshot can go out compressed (this module compresses it itself, once, and
    // every other message goes out uncompressed: `ws` never runs a deflate stream per connection).
    perMessageDeflate: { clientNoContextTakeover: true },
  })
}

/**
 * What this module reads of a `ws` WebSocket beyond its public API (ws 8: lib/websocket.js and
 * lib/sender.js): the socket it writes to, its Sender — which writes a message synchronously
 * whenever its state is DEFAULT (0) and its queue is empty, the only state a connection is in
 * here because nothing is ever compressed by `ws` — and the negotiated permessage-deflate
 * parameters. When any of it is missing (another `ws` version), `ws.send` is used instead.
 */
interface WsInternals {
  _socket?: Duplex
  _sender?: { _state?: number; _queue?: unknown[] }
  _extensions?: Record<string, { params?: Record<string, unknown> | null } | undefined>
}

function internals(ws: WebSocket): WsInternals {
  return ws as unknown as WsInternals
}

/** RFC 6455 §5.2 header of a final, unmasked text frame of `length` bytes; RSV1 marks it compressed. */
function textHeader(length: number, compressed: boolean): Buffer {
  const size = length < 126 ? 2 : length < 65536 ? 4 : 10
  const h = Buffer.allocUnsafe(size)
  h[0] = 0x81 | (compressed ? 0x40 : 0)
  if (size === 2) h[1] = length
  else if (size === 4) {
    h[1] = 126
    h.writeUInt16BE(length, 2)
  } else {
    h[1] = 127
    h.writeUInt32BE(Math.floor(length / 2 ** 32), 2)
    h.writeUInt32BE(length >>> 0, 6)
  }
  return h
}

/**
 * A frame's text as one framed WebSocket message, made once and written to every client: the header
 * and the UTF-8 text in one buffer (sending the string made `ws` encode it again per client:
 * writeUtf8String was 5.4 % of the fan-out profile at 5,000 clients).
 */
function framedText(frame: Serialized): Buffer {
  const header = textHeader(frame.bytes, false)
  const framed = Buffer.allocUnsafe(header.length + frame.bytes)
  header.copy(framed)
  framed.write(frame.json, header.length)
  return framed
}

/**
 * A frame with a shared tail (a fresh snapshot) as one compressed message: its own head compressed
 * here, its tail's segment shared; the message drops the last segment's 0x00 0x00 0xff 0xff, which
 * the receiver appends before inflating (RFC 7692 §7.2.1).
 */
function framedDeflated(frame: Frame): Buffer {
  const tail = frame.sharedTail!
  const head = deflateSegment(frame.json.slice(0, frame.json.length - tail.json.length))
  const shared = tail.encoded(tailSegment)
  const length = head.length + shared.length - 4
  return Buffer.concat([textHeader(length, true), head, shared.subarray(0, shared.length - 4)])
}

export class WsClient implements CatchUpClient {
  private alive = true
  principal: string | null = null
  meta?: ClientMeta
  private closing = false
  private budget: SendBudget
  /** The negotiated permessage-deflate lets this client take our one-shot compressed messages. */
  private inflates: boolean

  constructor(
    private ws: WebSocket,
    readonly topics: Topics,
    bufferLimit: number,
    private onCutOff: (reason: string) => void
  ) {
    this.budget = new SendBudget(bufferLimit)
    ws.on('pong', () => {
      this.alive = true
    })
    const params = internals(ws)._extensions?.['permessage-deflate']?.params
    // Our segments use zlib's default 15-bit window; a client that asked for a smaller one gets text.
    this.inflates = !!params && (params.server_max_window_bits ?? 15) === 15
  }

  get ended(): boolean {
    return this.closing || this.ws.readyState !== 1
  }

  queuedBytes(): number {
    return this.ws.bufferedAmount
  }

  sendCatchUp(frame: Frame): void {
    if (this.ended) return
    const bytes =
      this.inflates && frame.sharedTail && frame.json.length >= DEFLATE_MIN_BYTES
        ? frame.encoded(framedDeflated)
        : frame.encoded(framedText)
    this.budget.wrote(bytes.length, true)
    this.write(bytes, frame)
  }

  send(frame: Frame): void {
    this.sendLive(frame)
  }

  /** The frame's shared framed bytes. */
  private sendLive(frame: Serialized): void {
    if (this.ended) return
    if (this.budget.over(this.ws.bufferedAmount)) {
      this.onCutOff('send buffer over its limit')
      this.close(1013, 'client too slow')
      return
    }
    const bytes = frame.encoded(framedText)
    this.budget.wrote(bytes.length, false)
    this.write(bytes, frame)
  }

  /**
   * Writes a framed message straight to the socket when `ws` has nothing queued (always, here);
   * otherwise hands the text to `ws.send`, which queues it behind what it holds, in order.
   */
  private write(framed: Buffer, frame: Serialized): void {
    const { _socket: socket, _sender: sender } = internals(this.ws)
    if (socket && sender?._state === 0 && sender._queue?.length === 0) socket.write(framed)
    else this.ws.send(frame.json, { binary: false, compress: false })
  }

  tick(hb: Heartbeat): void {
    if (this.closing) return
    if (!this.alive) {
      this.onCutOff('no pong')
      this.ws.terminate()
      return
    }
    this.alive = false
    this.ws.ping()
    this.sendLive(hb)
  }

  close(code: number, reason: string): void {
    if (this.closing) return
    this.closing = true
    this.ws.close(code, reason)
    const t = setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS)
    t.unref()
    this.ws.once('close', () => clearTimeout(t))
  }
}
