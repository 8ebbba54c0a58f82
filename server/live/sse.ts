/**
 * @module The Server-Sent Events transport: `id:` on every event, so EventSource resumes with
 * Last-Event-ID by itself. The stream's queue is bounded in bytes; a client that can't keep up is
 * ended (it reconnects and resumes) rather than buffered without limit.
 */
import type { Connection, Frame, Heartbeat, LiveClient, Topics } from './hub.ts'

export class SseClient implements LiveClient {
  private controller!: ReadableStreamDefaultController<Uint8Array>
  private ended = false
  readonly stream: ReadableStream<Uint8Array>

  constructor(
    readonly topics: Topics,
    bufferLimit: number,
    private onEnd: () => void,
    private onCutOff: (reason: string) => void
  ) {
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.controller = c
        },
        cancel: () => this.end(),
      },
      { highWaterMark: bufferLimit, size: (chunk) => chunk.byteLength }
    )
  }

  begin(conn: Connection): void {
    // The reconnection delay EventSource uses; the page's own backoff takes over after failures.
    this.write(Buffer.from('retry: 2000\n\n'))
    this.write(conn.snapshot.sseBytes)
    for (const f of conn.replay) this.write(f.sseBytes)
  }

  send(frame: Frame): void {
    this.write(frame.sseBytes)
  }

  tick(hb: Heartbeat): void {
    this.write(hb.sseBytes)
  }

  private write(bytes: Uint8Array): void {
    if (this.ended) return
    if ((this.controller.desiredSize ?? 0) < 0) {
      this.onCutOff('stream buffer over limit')
      this.close()
      return
    }
    this.controller.enqueue(bytes)
  }

  close(_code?: number, _reason?: string): void {
    if (this.ended) return
    try {
      this.controller.close()
    } catch {
      // already closed by the consumer
    }
    this.end()
  }

  private end(): void {
    if (this.ended) return
    this.ended = true
    this.onEnd()
  }
}
