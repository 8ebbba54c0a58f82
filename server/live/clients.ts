/**
 * @module Who is connected: clients still catching up (`joining`) and clients on the live stream,
 * with what the admin's screens list and /metrics show of them.
 */
import type { Transport } from '../../contract/live.ts'
import type { Frame, Heartbeat } from './frame.ts'
import { matches, type Topics } from './topics.ts'

export interface LiveClient {
  readonly topics: Topics
  /** The credential it connected with (token or session id), so revoking it can close the client. */
  principal?: string | null
  /** How and from where it is connected (the admin's screens list). */
  meta?: ClientMeta
  /** Delivers one frame (a transport cuts off a client that can't keep up). */
  send(frame: Frame): void
  /** Called every heartbeat interval: keep-alives, liveness checks. */
  tick?(heartbeat: Heartbeat): void
  close(code: number, reason: string): void
}

export interface ClientMeta {
  transport: Transport
  /** The dashboard version the client runs (`?client=`), else this server's: a page just loaded runs it. */
  version: string
  connectedAt: number
  address: string
  userAgent: string | null
}

export class Clients {
  /** On the live stream: every frame is fanned out to them. */
  private live = new Set<LiveClient>()
  /** Connected, still being sent their snapshot and replay: counted and closed, not yet fanned out to. */
  private joining = new Set<LiveClient>()

  get count(): number {
    return this.live.size + this.joining.size
  }

  /** Counts a connecting client (closed on shutdown) while it catches up; it gets no live frames yet. */
  join(client: LiveClient): void {
    this.joining.add(client)
  }

  /** Moves a client to the live stream. */
  subscribe(client: LiveClient): void {
    this.joining.delete(client)
    this.live.add(client)
  }

  remove(client: LiveClient): void {
    this.joining.delete(client)
    this.live.delete(client)
  }

  /** Sends a frame to every live client whose topics match; returns how many. */
  fanOut(frame: Frame): number {
    let sent = 0
    for (const c of this.live)
      if (matches(c.topics, frame.event.type)) {
        c.send(frame)
        sent++
      }
    return sent
  }

  tick(hb: Heartbeat): void {
    for (const c of this.live) c.tick?.(hb)
  }

  /** Every connected client, joining ones included (a copy: callers may close them). */
  all(): LiveClient[] {
    return [...this.live, ...this.joining]
  }

  /** Open connections per transport. */
  byTransport(): Map<string, number> {
    const n = new Map<string, number>()
    for (const set of [this.live, this.joining])
      for (const c of set) if (c.meta) n.set(c.meta.transport, (n.get(c.meta.transport) ?? 0) + 1)
    return n
  }
}
