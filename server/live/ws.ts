/**
 * @module The WebSocket transport. Each client gets the shared serialized string of every frame;
 * one that falls more than its buffer behind on the live stream is closed with 1013 (try again
 * later) instead of letting server memory grow, and one that stops answering pings is terminated.
 */
import type { WebSocket } from 'ws'
import type { CatchUpClient } from './catch-up.ts'
import type { ClientMeta } from './clients.ts'
import type { Frame, Heartbeat } from './frame.ts'
import { SendBudget } from './send-budget.ts'
import type { Topics } from './topics.ts'

/** Shared bytes go out as text messages (what browsers' `onmessage` gets as a string). */
const TEXT = { binary: false } as const

/** After a close frame is queued, how long a peer that is not reading gets before the socket is destroyed. */
const CLOSE_GRACE_MS = 5000

export class WsClient implements CatchUpClient {
  private alive = true
  principal: string | null = null
  meta?: ClientMeta
  private closing = false
  private budget: SendBudget

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
  }

  get ended(): boolean {
    return this.closing || this.ws.readyState !== 1
  }

  queuedBytes(): number {
    return this.ws.bufferedAmount
  }

  sendCatchUp(frame: Frame): void {
    if (this.ended) return
    this.budget.wrote(frame.bytes, true)
    this.ws.send(frame.utf8, TEXT)
  }

  send(frame: Frame): void {
    this.sendLive(frame.utf8)
  }

  /** The frame's shared UTF-8 bytes, sent as a text message. */
  private sendLive(utf8: Buffer): void {
    if (this.ended) return
    if (this.budget.over(this.ws.bufferedAmount)) {
      this.onCutOff('send buffer over its limit')
      this.close(1013, 'client too slow')
      return
    }
    this.budget.wrote(utf8.length, false)
    this.ws.send(utf8, TEXT)
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
    this.sendLive(hb.utf8)
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
