/**
 * @module The live connection, framework-free: WebSocket first, then Server-Sent Events, then long
 * polling — the same event stream, resumed by event id after every reconnect, with exponential
 * backoff capped at a few seconds and jittered (a room of screens must not stampede a restarted
 * server). While the server is away each retry is one cheap probe (`/healthz`), not three failing
 * transports. A server at its client cap answers 503 with Retry-After, which is honoured (bounded).
 * A transport counts as open only once its snapshot arrived, so a proxy that accepts an upgrade but
 * forwards nothing still falls through to the next one.
 */
import type { ControlMessage } from '../../../contract/access.ts'
import type { LiveMessage, StreamEvent } from '../../../contract/live.ts'
import { TRANSPORTS, type Transport } from '../../../contract/vocabularies.ts'

/** Longest wait between reconnection attempts: a wall screen is back within seconds of its server. */
export const MAX_BACKOFF_MS = 3_000
/** The close code the server sends when this connection's credential is revoked. */
export const REVOKED_CLOSE_CODE = 4401

/** Bounds on a server's Retry-After. */
export const RETRY_AFTER_MIN_MS = 1_000
export const RETRY_AFTER_MAX_MS = 60_000

/** Retry-After in ms (seconds or an HTTP date), bounded; null when absent or unreadable. */
export function retryAfterMs(v: string | null, now = Date.now()): number | null {
  if (!v) return null
  const s = Number(v)
  const ms = Number.isFinite(s) ? s * 1000 : Date.parse(v) - now
  if (!Number.isFinite(ms)) return null
  return Math.min(RETRY_AFTER_MAX_MS, Math.max(RETRY_AFTER_MIN_MS, ms))
}

class Busy extends Error {
  constructor(readonly waitMs: number) {
    super('server busy')
  }
}

export type { Transport }
/** What `onEvent` receives: the snapshot or an event with an id, typed by its `type` (contract/live.ts). */
export type WireEvent = StreamEvent

export type ConnState = 'connecting' | 'live' | 'reconnecting'

export interface ConnectionStatus {
  state: ConnState
  transport: Transport | null
  /** Reconnection attempts since the last time the stream was live. */
  attempt: number
  lastEventId: number | null
  /** Local ms time of the last message of any kind (event or heartbeat). */
  lastMessageAt: number | null
  /** Local ms time since which the screen has not been known to be current; null while fresh. */
  staleSince: number | null
  /** The server said it is full (503): ms it asked us to wait; null otherwise. */
  busyWaitMs: number | null
  /** Server clock minus local clock, from the snapshot (ms). */
  clockOffsetMs: number
}

export interface ConnectionOptions {
  base: string
  transports?: Transport[]
  topics?: string[]
  /** Disconnected this long → stale. */
  staleAfterDisconnectMs?: number
  /** Connected but silent this long (no heartbeat) → stale. */
  staleAfterSilenceMs?: number
  /** No snapshot within this time → the transport is treated as failed. */
  openTimeoutMs?: number
  maxBackoffMs?: number
  onEvent(ev: WireEvent, replayed: boolean): void
  onStatus(s: ConnectionStatus): void
  /** A message for this screen alone (identify, reload, show): outside the event stream, no id. */
  onControl?(data: ControlMessage): void
  /**
   * The server closed us out: our credential was revoked (WebSocket close 4401) or we are not
   * signed in (a poll answered 401). Retrying would not help; the page decides what to show.
   */
  onAccessLost?(reason: 'revoked' | 'signed-out'): void
}

interface Channel {
  close(): void
}

export class LiveConnection {
  private status: ConnectionStatus = {
    state: 'connecting',
    transport: null,
    attempt: 0,
    lastEventId: null,
    lastMessageAt: null,
    staleSince: null,
    clockOffsetMs: 0,
    busyWaitMs: null,
  }
  private order: Transport[]
  private index = 0
  /** The transport that last worked; reconnects start there. */
  private preferred = 0
  private channel: Channel | null = null
  private opened = false
  private disconnectedAt: number | null = null
  private retryTimer: ReturnType<typeof setTimeout> | undefined
  private openTimer: ReturnType<typeof setTimeout> | undefined
  private watchdog: ReturnType<typeof setInterval> | undefined
  private stopped = false
  private generation = 0
  /** Ids at or below this came in a replay after the snapshot that started the connection. */
  private replayThrough = 0
  /** Silence longer than this means the stream is dead (see the snapshot's heartbeat settings). */
  private silenceMs: number
  /** The server version of the first snapshot this page got. */
  private pageVersion: string | null = null

  constructor(private o: ConnectionOptions) {
    this.order = o.transports?.length ? o.transports : [...TRANSPORTS]
    this.silenceMs = o.staleAfterSilenceMs ?? 40_000
  }

  start(): void {
    this.stopped = false
    this.watchdog = setInterval(() => this.checkStale(), 1000)
    // Back on the network or back on screen: don't sit out the rest of a long backoff.
    addEventListener('online', this.retryNow)
    document.addEventListener('visibilitychange', this.retryNow)
    this.connect()
  }

  stop(): void {
    this.stopped = true
    removeEventListener('online', this.retryNow)
    document.removeEventListener('visibilitychange', this.retryNow)
    clearInterval(this.watchdog)
    clearTimeout(this.retryTimer)
    clearTimeout(this.openTimer)
    this.channel?.close()
    this.channel = null
  }

  /** Reconnects at once if a retry is pending (not while a connection is being made or is open). */
  readonly retryNow = (): void => {
    if (this.stopped || this.channel || document.visibilityState === 'hidden') return
    clearTimeout(this.retryTimer)
    this.connect()
  }

  get current(): ConnectionStatus {
    return this.status
  }

  private update(patch: Partial<ConnectionStatus>): void {
    this.status = { ...this.status, ...patch }
    this.o.onStatus(this.status)
  }

  private url(path: string, extra: Record<string, string> = {}): string {
    const u = new URL(path, this.o.base)
    if (this.status.lastEventId !== null) u.searchParams.set('since', String(this.status.lastEventId))
    if (this.o.topics?.length) u.searchParams.set('topics', this.o.topics.join(','))
    // The version this page runs (it reloads when the server's changes): the admin's screens list shows it.
    if (this.pageVersion) u.searchParams.set('client', this.pageVersion)
    for (const [k, v] of Object.entries(extra)) u.searchParams.set(k, v)
    return u.toString()
  }

  private connect(): void {
    if (this.stopped) return
    const gen = ++this.generation
    const t = this.order[this.index]!
    this.opened = false
    this.update({ transport: t })
    const handlers = {
      message: (raw: string) => gen === this.generation && this.onMessage(raw),
      closed: (busyMs?: number) => gen === this.generation && this.onClosed(busyMs),
    }
    clearTimeout(this.openTimer)
    this.openTimer = setTimeout(() => {
      if (gen === this.generation && !this.opened) this.onClosed()
    }, this.o.openTimeoutMs ?? 10_000)
    try {
      this.channel =
        t === 'ws' ? this.openWs(handlers) : t === 'sse' ? this.openSse(handlers) : this.openPoll(handlers, gen)
    } catch {
      handlers.closed()
    }
  }

  private openWs(h: Handlers): Channel {
    const ws = new WebSocket(this.url('live').replace(/^http/, 'ws'))
    ws.onmessage = (e) => h.message(String(e.data))
    ws.onclose = (e) => {
      if (e.code === REVOKED_CLOSE_CODE) this.o.onAccessLost?.('revoked')
      h.closed()
    }
    ws.onerror = () => ws.close()
    return {
      close: () => {
        ws.onclose = null
        ws.close()
      },
    }
  }

  private openSse(h: Handlers): Channel {
    const es = new EventSource(this.url('live/sse'))
    es.onmessage = (e) => h.message(e.data)
    // EventSource would retry by itself with its own Last-Event-ID; our backoff and fallback decide instead.
    es.onerror = () => {
      es.close()
      h.closed()
    }
    return { close: () => es.close() }
  }

  private openPoll(h: Handlers, gen: number): Channel {
    const ctrl = new AbortController()
    let first = true
    const loop = async () => {
      while (gen === this.generation && !ctrl.signal.aborted) {
        const res = await fetch(this.url('live/poll', first ? { snapshot: '1' } : {}), {
          signal: ctrl.signal,
          cache: 'no-store',
        })
        if (res.status === 503) throw new Busy(retryAfterMs(res.headers.get('retry-after')) ?? MAX_BACKOFF_MS)
        if (res.status === 401) this.o.onAccessLost?.('signed-out')
        if (!res.ok) throw new Error(`poll ${res.status}`)
        const body = (await res.json()) as { events: LiveMessage[] }
        first = false
        // An empty answer is the poll's heartbeat: the server is there, nothing happened.
        if (body.events.length === 0) h.message('{"type":"heartbeat"}')
        for (const ev of body.events) h.message(JSON.stringify(ev))
      }
    }
    loop().catch((e) => {
      if (!ctrl.signal.aborted) h.closed(e instanceof Busy ? e.waitMs : undefined)
    })
    return { close: () => ctrl.abort() }
  }

  private onMessage(raw: string): void {
    let ev: LiveMessage
    try {
      ev = JSON.parse(raw)
    } catch {
      return
    }
    const now = Date.now()
    this.status.lastMessageAt = now
    if (ev.type === 'control') {
      this.o.onControl?.(ev.data)
      return
    }
    if (ev.type === 'heartbeat') {
      if (this.status.staleSince !== null && this.opened) this.update({ staleSince: null })
      return
    }
    if (ev.type === 'snapshot') {
      this.opened = true
      this.preferred = this.index
      this.disconnectedAt = null
      clearTimeout(this.openTimer)
      const d = ev.data
      if (this.pageVersion === null && typeof d.version === 'string') this.pageVersion = d.version
      const offset = Date.parse(d.serverTime) - now
      // A server configured with slower heartbeats or longer polls must not look dead between them.
      const hb = typeof d.heartbeatMs === 'number' ? d.heartbeatMs * 2.5 : 0
      const poll =
        this.status.transport === 'poll' && typeof d.pollTimeoutMs === 'number' ? d.pollTimeoutMs + 15_000 : 0
      this.silenceMs = Math.max(this.o.staleAfterSilenceMs ?? 40_000, hb, poll)
      // A reset means our last id is no longer meaningful (trimmed, or another database).
      const lastEventId = d.reset || this.status.lastEventId === null ? ev.id : this.status.lastEventId
      this.replayThrough = d.head
      this.update({ state: 'live', attempt: 0, staleSince: null, clockOffsetMs: offset, lastEventId, busyWaitMs: null })
      this.o.onEvent(ev, false)
      return
    }
    const last = this.status.lastEventId
    if (last !== null && ev.id <= last) return // already applied (overlapping replay)
    this.status.lastEventId = ev.id
    this.o.onEvent(ev, ev.id <= this.replayThrough)
  }

  private onClosed(busyMs?: number): void {
    if (this.stopped) return
    clearTimeout(this.openTimer)
    this.channel?.close()
    this.channel = null
    const wasOpen = this.opened
    this.opened = false
    this.disconnectedAt ??= Date.now()
    if (busyMs === undefined && !wasOpen && this.index + 1 < this.order.length && this.probed) {
      // The server is there but this transport did not get through: fall back to the next one at once.
      this.index++
      this.update({ state: this.status.state === 'live' ? 'reconnecting' : this.status.state })
      return this.connect()
    }
    this.index = wasOpen ? this.preferred : 0
    this.scheduleRetry(busyMs)
  }

  /** True once the probe reached the server since the last failure (so a transport failure is the transport's). */
  private probed = true

  private scheduleRetry(busyMs?: number): void {
    const attempt = this.status.attempt + 1
    let delay: number
    if (busyMs !== undefined) {
      // At its client cap the server says when to come back; spread the room over one more second.
      delay = busyMs + Math.random() * 1000
    } else {
      const base = Math.min(this.o.maxBackoffMs ?? MAX_BACKOFF_MS, 500 * 2 ** Math.min(attempt - 1, 10))
      // Jitter spreads a room of screens so a restarted server is not hit by all of them at once.
      delay = base / 2 + Math.random() * (base / 2)
    }
    this.update({ state: 'reconnecting', attempt, busyWaitMs: busyMs ?? null })
    clearTimeout(this.retryTimer)
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      void this.probeThenConnect()
    }, delay)
    this.checkStale()
  }

  /** One cheap request first: while the server is down, that is all a retry costs (and logs). */
  private async probeThenConnect(): Promise<void> {
    if (this.stopped || this.channel) return
    const gen = ++this.generation
    let busy: number | undefined
    let up = false
    try {
      const res = await fetch(new URL('healthz', this.o.base), { cache: 'no-store', signal: AbortSignal.timeout(4000) })
      up = true
      if (res.status === 503) busy = retryAfterMs(res.headers.get('retry-after')) ?? undefined
    } catch {
      up = false
    }
    if (this.stopped || gen !== this.generation || this.channel) return
    if (!up || busy !== undefined) {
      this.probed = false
      return this.scheduleRetry(busy)
    }
    this.probed = true
    this.connect()
  }

  private checkStale(): void {
    if (this.stopped || this.status.staleSince !== null) return
    const now = Date.now()
    const last = this.status.lastMessageAt
    const silentTooLong = last !== null && now - last > this.silenceMs
    const downTooLong =
      this.disconnectedAt !== null && now - this.disconnectedAt > (this.o.staleAfterDisconnectMs ?? 5_000)
    if (silentTooLong || downTooLong) {
      this.update({ staleSince: Math.min(last ?? now, this.disconnectedAt ?? now) })
      // A silent stream may be a dead TCP connection the browser has not noticed: start over.
      if (silentTooLong && this.opened) this.onClosed()
    }
  }
}

interface Handlers {
  message(raw: string): void
  closed(busyMs?: number): void
}
