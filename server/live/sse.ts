/**
 * @module The Server-Sent Events transport: `id:` on every event, so EventSource resumes with
 * Last-Event-ID by itself. A client more than its buffer behind on the live stream is ended (it
 * reconnects and resumes) rather than buffered without limit; its snapshot and replay are paced
 * (catch-up.ts) and never count against that limit.
 */
import type { CatchUpClient } from './catch-up.ts'
import type { ClientMeta, Frame, Heartbeat, Topics } from './hub.ts'
import { SendBudget } from './send-budget.ts'

/** The reconnection delay EventSource uses; the page's own backoff takes over after failures. */
export const SSE_RETRY_MS = 2000

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
    const bytes = frame.sseBytes
    this.budget.wrote(bytes.byteLength, true)
    this.enqueue(bytes)
  }

  send(frame: Frame): void {
    this.sendLive(frame.sseBytes)
  }

  tick(hb: Heartbeat): void {
    this.sendLive(hb.sseBytes)
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
