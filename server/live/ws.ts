/**
 * @module The WebSocket transport. Each client gets the shared serialized string of every frame;
 * one whose send buffer grows past the limit is closed with 1013 (try again later) instead of
 * letting server memory grow, and one that stops answering pings is terminated.
 */
import type { WebSocket } from 'ws'
import type { Frame, Heartbeat, LiveClient, Topics } from './hub.ts'

/** After a close frame is queued, how long a peer that is not reading gets before the socket is destroyed. */
const CLOSE_GRACE_MS = 5000

export class WsClient implements LiveClient {
  private alive = true
  private closing = false

  constructor(
    private ws: WebSocket,
    readonly topics: Topics,
    private bufferLimit: number,
    private onCutOff: (reason: string) => void
  ) {
    ws.on('pong', () => {
      this.alive = true
    })
  }

  send(frame: Frame): void {
    this.sendText(frame.json)
  }

  sendText(text: string): void {
    if (this.closing || this.ws.readyState !== 1) return
    if (this.ws.bufferedAmount > this.bufferLimit) {
      this.onCutOff(`send buffer over ${this.bufferLimit} bytes`)
      this.close(1013, 'client too slow')
      return
    }
    this.ws.send(text)
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
    this.sendText(hb.json)
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
