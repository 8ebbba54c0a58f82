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

export class SseClient implements CatchUpClient {
  private controller!: ReadableStreamDefaultController<Uint8Array>
  private done = false
  principal: string | null = null
  meta?: ClientMeta
  private budget: SendBudget
  readonly stream: ReadableStream<Uint8Array>

  constructor(
    readonly topics: Topics,
    private bufferLimit: number,
    private onEnd: () => void,
    private onCutOff: (reason: string) => void
  ) {
    this.budget = new SendBudget(bufferLimit)
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.controller = c
        },
        cancel: () => this.end(),
      },
      { highWaterMark: bufferLimit, size: (chunk) => chunk.byteLength }
    )
    this.enqueue(Buffer.from(`retry: ${SSE_RETRY_MS}\n\n`))
  }

  get ended(): boolean {
    return this.done
  }

  /** What the stream holds that the response has not yet taken. */
  queuedBytes(): number {
    return this.bufferLimit - (this.controller.desiredSize ?? this.bufferLimit)
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
    if (!this.done) this.controller.enqueue(bytes)
  }

  close(_code?: number, _reason?: string): void {
    if (this.done) return
    try {
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
