/**
 * @module Live clients for the benchmarks, many in one process, as light as the protocol allows:
 * each records, per message, its event id, type, size and arrival time (performance.now()). The
 * id and type are read from the start of the frame (`{"id":N,"type":"…"` is how every frame
 * begins), so a 5,000-client round is not dominated by JSON.parse in the measuring process; the
 * full JSON is parsed only where a check needs it (`keepText`).
 */
import http from 'node:http'
import zlib from 'node:zlib'
import WebSocket from 'ws'
import { io as ioClient, type Socket } from 'socket.io-client'

export interface Msg {
  id: number
  type: string
  bytes: number
  t: number
  /** The frame's text, for the clients asked to keep it. */
  text?: string
  /** The frame's bytes, when kept undecoded (WsBench's keepSnapshots). */
  raw?: Buffer
}

const HEAD = /^\{"id":(\d+),"type":"([^"]+)"/

export abstract class BenchClient {
  messages: Msg[] = []
  closed = false
  closeCode: number | null = null
  /** Called on every message (the round's waiter counts arrivals here). */
  onMessage: ((m: Msg, c: BenchClient) => void) | null = null
  constructor(public keepText = false) {}
  protected record(id: number, type: string, bytes: number, text?: string): void {
    const m: Msg = { id, type, bytes, t: performance.now() }
    if (this.keepText && text !== undefined) m.text = text
    this.messages.push(m)
    this.onMessage?.(m, this)
  }
  protected frame(text: string, bytes: number): void {
    const h = HEAD.exec(text.length > 120 ? text.slice(0, 120) : text)
    if (h) this.record(Number(h[1]), h[2]!, bytes, text)
    else if (text.startsWith('{"type":"heartbeat"')) return
    else this.record(-1, 'unparsed', bytes, text)
  }
  get lastId(): number {
    for (let i = this.messages.length - 1; i >= 0; i--) if (this.messages[i]!.id >= 0) return this.messages[i]!.id
    return 0
  }
  abstract close(): void
}

/** A WebSocket client (`ws`), for Radiator's /live and the raw ws baseline. */
export class WsBench extends BenchClient {
  readonly ws: WebSocket
  readonly opened: Promise<void>
  private handshakeBytes = 0
  /** What the socket read for the first message (the snapshot), as it came over the wire. */
  firstWireBytes: number | undefined
  /**
   * `keepSnapshots`: keep the text of snapshot frames only (checked after the timing). `deflate`:
   * offer permessage-deflate as browsers do (off by default: the fan-out baselines never compress);
   * `firstWireBytes` tells what the first message took on the wire.
   */
  constructor(url: string, keepText = false, keepSnapshots = false, opts: { deflate?: boolean } = {}) {
    super(keepText)
    this.ws = new WebSocket(url, { perMessageDeflate: opts.deflate ?? false })
    // The 101 answer's bytes (status line and headers as `ws` writes them), so a frame's wire size can be told apart.
    this.ws.once('upgrade', (res) => {
      let n = `HTTP/1.1 ${res.statusCode} ${res.statusMessage}\r\n\r\n`.length
      for (let i = 0; i < res.rawHeaders.length; i += 2)
        n += `${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}\r\n`.length
      this.handshakeBytes = n
    })
    this.ws.on('message', (data: Buffer) => {
      this.firstWireBytes ??= this.wireBytes - this.handshakeBytes
      // Only the head is decoded unless the text is kept; a snapshot kept for later is kept as
      // its bytes and decoded after the timing.
      const text = this.keepText ? data.toString('utf8') : data.toString('latin1', 0, Math.min(data.length, 120))
      this.frame(text, data.length)
      if (keepSnapshots && !this.keepText) {
        const m = this.messages[this.messages.length - 1]
        if (m?.type === 'snapshot') m.raw = data
      }
    })
    this.ws.on('close', (code) => {
      this.closed = true
      this.closeCode = code
    })
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve())
      this.ws.once('error', reject)
    })
    this.opened.catch(() => {})
  }
  /** Bytes this client's socket has read so far (`ws` keeps its net.Socket as `_socket`). */
  get wireBytes(): number {
    return (this.ws as unknown as { _socket?: { bytesRead: number } })._socket?.bytesRead ?? 0
  }
  close(): void {
    this.ws.terminate()
  }
}

/** A socket.io client on the websocket transport only (no polling handshake first). */
export class SocketIoBench extends BenchClient {
  readonly socket: Socket
  readonly opened: Promise<void>
  constructor(url: string) {
    super(false)
    this.socket = ioClient(url, { transports: ['websocket'], forceNew: true, reconnection: false })
    this.socket.on('event', (e: { id: number; type: string }) => this.record(e.id, e.type, 0))
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve())
      this.socket.once('connect_error', reject)
    })
    this.opened.catch(() => {})
  }
  close(): void {
    this.socket.disconnect()
  }
}

/**
 * EventSource's parsing over a plain node:http stream (one socket per client, as browsers do).
 * `acceptEncoding` (default BENCH_SSE_ENCODING, else none: the raw stream) is sent as browsers send
 * it, and a compressed stream is inflated here as a browser would; `firstWireBytes` tells what the
 * body took on the wire up to the end of the first message (the snapshot).
 */
export class SseBench extends BenchClient {
  private req!: http.ClientRequest
  readonly opened: Promise<void>
  /** Body bytes as they came over the wire (compressed when the server compressed them). */
  wireBytes = 0
  firstWireBytes: number | undefined
  constructor(url: string, keepText = false, lastEventId?: number, acceptEncoding = process.env.BENCH_SSE_ENCODING) {
    super(keepText)
    const headers: Record<string, string> = { accept: 'text/event-stream' }
    if (lastEventId !== undefined) headers['last-event-id'] = String(lastEventId)
    if (acceptEncoding) headers['accept-encoding'] = acceptEncoding
    let buf = ''
    this.opened = new Promise((resolve, reject) => {
      this.req = http.get(url, { agent: false, headers }, (res) => {
        if (res.statusCode !== 200) return reject(new Error(`SSE answered ${res.statusCode}`))
        res.on('data', (chunk: Buffer | string) => {
          this.wireBytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length
        })
        const coding = res.headers['content-encoding']
        // Sync-flushed, as curl and undici decode: a stream that is cut has no trailer.
        const inflate = { finishFlush: zlib.constants.Z_SYNC_FLUSH }
        const body =
          coding === 'gzip'
            ? res.pipe(zlib.createGunzip(inflate))
            : coding === 'deflate'
              ? res.pipe(zlib.createInflate(inflate))
              : res
        body.on('error', () => {})
        body.setEncoding('utf8')
        resolve()
        body.on('data', (chunk: string) => {
          buf += chunk
          let i: number
          while ((i = buf.indexOf('\n\n')) !== -1) {
            const block = buf.slice(0, i)
            buf = buf.slice(i + 2)
            const d = block.indexOf('data: ')
            if (d >= 0) {
              this.firstWireBytes ??= this.wireBytes
              this.frame(block.slice(d + 6, this.keepText ? undefined : d + 126), Buffer.byteLength(block) + 2)
            }
          }
        })
        res.on('close', () => (this.closed = true))
      })
      this.req.on('error', reject)
    })
    this.opened.catch(() => {})
  }
  close(): void {
    this.req.destroy()
  }
}

/**
 * A long-polling client looping like the page does: first poll with `snapshot=1`, then each from
 * the last id it got, at once. Events are recorded when the answer carrying them has arrived.
 */
export class PollBench extends BenchClient {
  private stopped = false
  private current: http.ClientRequest | null = null
  readonly opened: Promise<void>
  polls = 0
  constructor(
    private base: string,
    private agent: http.Agent,
    keepText = false
  ) {
    super(keepText)
    this.opened = this.poll(true)
    this.opened.then(() => this.loop()).catch(() => {})
  }
  private poll(first: boolean): Promise<void> {
    const u = new URL('/live/poll', this.base)
    if (first) u.searchParams.set('snapshot', '1')
    else u.searchParams.set('since', String(this.lastId))
    return new Promise((resolve, reject) => {
      this.current = http.get(u, { agent: this.agent }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          this.polls++
          const raw = Buffer.concat(chunks)
          if (res.statusCode !== 200) return reject(new Error(`poll answered ${res.statusCode}`))
          const { events } = JSON.parse(raw.toString('utf8')) as { events: { id?: number; type: string }[] }
          // The answer's bytes are shared out over its events.
          for (const e of events)
            if (typeof e.id === 'number')
              this.record(e.id, e.type, raw.length / events.length, this.keepText ? JSON.stringify(e) : undefined)
          resolve()
        })
      })
      this.current.on('error', reject)
    })
  }
  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.poll(false)
      } catch {
        if (this.stopped) return
        this.closed = true
        return
      }
    }
  }
  close(): void {
    this.stopped = true
    this.current?.destroy()
  }
}

/** Opens `n` clients `batch` at a time; throws when any fails to open. */
export async function openMany<C extends { opened: Promise<void> }>(
  n: number,
  make: (i: number) => C,
  batch = 100
): Promise<C[]> {
  const out: C[] = []
  for (let i = 0; i < n; i += batch) {
    const chunk = Array.from({ length: Math.min(batch, n - i) }, (_, k) => make(i + k))
    await Promise.all(chunk.map((c) => c.opened))
    out.push(...chunk)
  }
  return out
}
