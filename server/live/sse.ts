/**
 * @module The Server-Sent Events transport: `id:` on every event, so EventSource resumes with
 * Last-Event-ID by itself. A client more than its buffer behind on the live stream is ended (it
 * reconnects and resumes) rather than buffered without limit; its snapshot and replay are paced
 * (catch-up.ts) and never count against that limit.
 */
import type { CatchUpClient } from './catch-up.ts'
import type { ClientMeta } from './clients.ts'
import { type Frame, Heartbeat } from './frame.ts'
import { SendBudget } from './send-budget.ts'
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
}

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

  constructor(
    readonly topics: Topics,
    private bufferLimit: number,
    private onEnd: () => void,
    private onCutOff: (reason: string) => void,
    private sink?: ServerResponse
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
    this.enqueue(Buffer.from(`retry: ${SSE_RETRY_MS}\n\n`))
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
    const bytes = frame.encoded(encodeSse)
    this.budget.wrote(bytes.byteLength, true)
    this.enqueue(bytes)
  }

  send(frame: Frame): void {
    this.sendLive(frame.encoded(encodeSse))
  }

  tick(hb: Heartbeat): void {
    this.sendLive(hb.encoded(encodeSse))
  }

  private sendLive(bytes: Buffer): void {
    if (this.done) return
    if (this.budget.over(this.queuedBytes())) {
      this.onCutOff('stream buffer over its limit')
      this.close()
      return
    }
    this.budget.wrote(bytes.byteLength, false)
    this.enqueue(bytes)
  }

  private enqueue(bytes: Uint8Array): void {
    if (this.done) return
    if (this.pending) this.pending.push(bytes)
    else if (this.sink) this.sink.write(bytes)
    else this.controller.enqueue(bytes)
  }

  close(_code?: number, _reason?: string): void {
    if (this.done) return
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
