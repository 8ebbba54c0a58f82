/**
 * @module The Server-Sent Events transport: `id:` on every event, so EventSource resumes with
 * Last-Event-ID by itself. A client that takes gzip or deflate gets the stream compressed, each
 * message compressed once for every such client (sse-encoding.ts), a fresh snapshot's state once
 * per head (the same segment the WebSocket transport sends). A client more than its buffer behind
 * on the live stream is ended (it reconnects and resumes) rather than buffered without limit; its
 * snapshot and replay are paced (catch-up.ts) and never count against that limit.
 */
import type { CatchUpClient } from './catch-up.ts'
import type { ClientMeta } from './clients.ts'
import { tailSegment } from './deflate.ts'
import { type Frame, Heartbeat, type Serialized } from './frame.ts'
import { SendBudget } from './send-budget.ts'
import { CODINGS, type Coding, type Piece, type Position, type SseCoding } from './sse-encoding.ts'
import type { ServerResponse } from 'node:http'
import type { Topics } from './topics.ts'

/** The reconnection delay EventSource uses; the page's own backoff takes over after failures. */
export const SSE_RETRY_MS = 2000

/**
 * A frame as an SSE block, made once per frame and shared by every SSE client. Events of the stream
 * carry `id:`; control and heartbeat messages have none, so they never move Last-Event-ID.
 */
function encodeSse(frame: Frame): Buffer {
  if (frame.inStream) return Buffer.from(`id: ${frame.event.id}\ndata: ${frame.json}\n\n`)
  // The comment is for proxies; the data line lets page code see the connection is alive.
  if (frame instanceof Heartbeat) return Buffer.from(`: heartbeat\ndata: ${frame.json}\n\n`)
  return Buffer.from(`data: ${frame.json}\n\n`)
}

export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-store, no-transform',
  connection: 'keep-alive',
  // nginx buffers proxied responses unless told not to; that would hold events back.
  'x-accel-buffering': 'no',
  vary: 'accept-encoding',
}

const opening = () => Buffer.from(`retry: ${SSE_RETRY_MS}\n\n`)

/**
 * Per coding: a frame's piece of the compressed stream, made once per frame and shared (cached on
 * the frame, keyed by this function); a fresh snapshot's is its own small head joined to its shared
 * state's piece, made once per head from the segment ws.ts sends too; and the stream's first bytes.
 */
function codedFrames(coding: Coding) {
  const tailPiece = (tail: Serialized): Piece => ({ ...coding.piece(tail.utf8), segment: tail.encoded(tailSegment) })
  const end = coding.piece(Buffer.from('\n\n'))
  const piece = (frame: Frame): Piece => {
    const tail = frame.sharedTail
    if (!tail || !frame.inStream) return coding.piece(encodeSse(frame))
    const head = frame.json.slice(0, frame.json.length - tail.json.length)
    return coding.join([
      coding.piece(Buffer.from(`id: ${frame.event.id}\ndata: ${head}`)),
      tail.encoded(tailPiece),
      end,
    ])
  }
  const first = coding.piece(opening())
  return { coding, piece, first, start: Buffer.concat([coding.header, first.segment]) }
}

const CODED = { gzip: codedFrames(CODINGS.gzip), deflate: codedFrames(CODINGS.deflate) }

/**
 * A refused stream. EventSource treats any status but 200 as fatal and never retries: a busy server
 * answers 200 with a `retry:` delay and an `unavailable` event, and ends the stream, so the screen
 * comes back when a slot frees.
 */
export function sseRefusal(body: { retryAfterMs: number }): Response {
  const text = `retry: ${body.retryAfterMs}\nevent: unavailable\ndata: ${JSON.stringify(body)}\n\n`
  return new Response(text, { headers: SSE_HEADERS })
}

/** Counts a chunk by its bytes (one function for every client's stream). */
const byteSize = (chunk: Uint8Array) => chunk.byteLength

/**
 * An SSE connection. Under Node (`sink`: the request's ServerResponse) its bytes are written to the
 * response directly, the same shared Buffer for every client, as the WebSocket transport does: the
 * response's stream body only carries the headers out and ends it. Until the adapter has written the
 * headers (it then pulls the body for the first time) the bytes wait in `pending`. Without a sink
 * (app.request() in unit tests) every byte goes through the stream.
 */
export class SseClient implements CatchUpClient {
  private controller!: ReadableStreamDefaultController<Uint8Array>
  private done = false
  principal: string | null = null
  meta?: ClientMeta
  private budget: SendBudget
  /** Bytes before the headers are out, when writing to `sink`; undefined once they are written. */
  private pending: Uint8Array[] | undefined
  readonly stream: ReadableStream<Uint8Array>
  /** For a compressed stream: its coding's shared pieces, and the checksum and length sent so far. */
  private coded: { frames: (typeof CODED)[SseCoding]; at: Position } | undefined

  constructor(
    readonly topics: Topics,
    private bufferLimit: number,
    private onEnd: () => void,
    private onCutOff: (reason: string) => void,
    private sink?: ServerResponse,
    coding: SseCoding | null = null
  ) {
    this.budget = new SendBudget(bufferLimit)
    if (sink) this.pending = []
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.controller = c
        },
        // The adapter reads the body right after writing the headers: from then on, write directly.
        pull: sink ? () => this.flushPending() : undefined,
        cancel: () => this.end(),
      },
      // Writing to a sink, nothing is ever queued in the stream, and its first pull waits for a read.
      { highWaterMark: sink ? 0 : bufferLimit, size: byteSize }
    )
    if (coding) {
      const frames = CODED[coding]
      this.coded = { frames, at: { check: frames.coding.initial, length: 0 } }
      frames.coding.advance(this.coded.at, frames.first)
      this.enqueue(frames.start)
    } else this.enqueue(opening())
  }

  /** The response's headers: the event stream's, and its Content-Encoding when compressed. */
  get headers(): Record<string, string> {
    return this.coded ? { ...SSE_HEADERS, 'content-encoding': this.coded.frames.coding.name } : SSE_HEADERS
  }

  get ended(): boolean {
    return this.done
  }

  /** What the stream (or the response and its socket) holds that the client has not yet taken. */
  queuedBytes(): number {
    if (this.sink && !this.pending) return this.sink.writableLength
    if (this.pending) return this.pending.reduce((n, b) => n + b.byteLength, 0)
    return this.bufferLimit - (this.controller.desiredSize ?? this.bufferLimit)
  }

  /**
   * The body's first read. The adapter may read it before writing the headers (it looks for a short
   * body to give a Content-Length), so the pending bytes go out once the headers are written, in a
   * later turn. Never resolves: the body stays open, with nothing in it, until `close` ends it.
   */
  private flushPending(): Promise<void> {
    this.whenHeadersOut()
    return new Promise(() => {})
  }

  private whenHeadersOut = (): void => {
    const sink = this.sink!
    if (this.done || !this.pending || sink.destroyed) return
    if (!sink.headersSent) {
      setImmediate(this.whenHeadersOut)
      return
    }
    const pending = this.pending
    this.pending = undefined
    for (const b of pending) sink.write(b)
  }

  sendCatchUp(frame: Frame): void {
    this.write(frame, true)
  }

  send(frame: Frame): void {
    this.write(frame, false)
  }

  tick(hb: Heartbeat): void {
    this.write(hb, false)
  }

  private write(frame: Frame, catchUp: boolean): void {
    if (this.done) return
    if (!catchUp && this.budget.over(this.queuedBytes())) {
      this.onCutOff('stream buffer over its limit')
      this.close()
      return
    }
    const bytes = this.encode(frame)
    this.budget.wrote(bytes.byteLength, catchUp)
    this.enqueue(bytes)
  }

  /** The frame's shared bytes for this stream; a compressed stream's checksum moves past them. */
  private encode(frame: Frame): Buffer {
    if (!this.coded) return frame.encoded(encodeSse)
    const piece = frame.encoded(this.coded.frames.piece)
    this.coded.frames.coding.advance(this.coded.at, piece)
    return piece.segment
  }

  private enqueue(bytes: Uint8Array): void {
    if (this.done) return
    if (this.pending) this.pending.push(bytes)
    else if (this.sink) this.sink.write(bytes)
    else this.controller.enqueue(bytes)
  }

  close(_code?: number, _reason?: string): void {
    if (this.done) return
    // A stream the server ends itself ends as a complete gzip / zlib body; one that is cut is not.
    if (this.coded && !this.sink?.destroyed) this.enqueue(this.coded.frames.coding.trailer(this.coded.at))
    try {
      // Bytes still waiting for the headers go out through the body, before its end.
      for (const b of this.pending ?? []) this.controller.enqueue(b)
      this.pending = undefined
      this.controller.close()
    } catch {
      // already closed by the consumer
    }
    this.end()
  }

  private end(): void {
    if (this.done) return
    this.done = true
    this.onEnd()
  }
}
