/**
 * @module The live hub: one ordered stream of events, fanned out to every connected client over any
 * transport. Ids come from one sequence that increases across restarts (a high-water mark is
 * reserved in `meta` in blocks). Events that matter later are persisted (inside the writer's
 * transaction, sent once its COMMIT is durable); fast-changing values are kept as the latest per key.
 */
import type { EventData, EventType, SnapshotData, SnapshotState } from '../../contract/live.ts'
import type { Sqlite, Store } from '../db/client.ts'
import type { Writer } from '../db/writer.ts'

/** A frame's event: any message with an id on the wire (contract/live.ts types each one). */
export interface LiveEvent<D = unknown> {
  id: number
  type: string
  at: string
  data: D
}

/** An event serialized once; every client gets the same string / bytes. */
export class Frame {
  readonly json: string
  private sse: Buffer | undefined
  private utf8Bytes: Buffer | undefined
  /** `json` when the caller already has the serialized form (a stored row, a cached snapshot). */
  constructor(
    readonly event: LiveEvent,
    json?: string
  ) {
    this.json = json ?? JSON.stringify(event)
  }
  get sseBytes(): Buffer {
    return (this.sse ??= Buffer.from(`id: ${this.event.id}\ndata: ${this.json}\n\n`))
  }
  /**
   * `json` encoded once, for every WebSocket client: sending the string made `ws` encode it again
   * per client (writeUtf8String was 5.4 % of the fan-out profile at 5,000 clients).
   */
  get utf8(): Buffer {
    return (this.utf8Bytes ??= Buffer.from(this.json))
  }
  /** UTF-8 length of `json`: what a page of replay and a client's send budget count. */
  get bytes(): number {
    return this.utf8.length
  }
}

/**
 * A message for particular screens (identify, reload, show…), outside the event stream: no id, so
 * it never moves a client's resume point and is never replayed.
 */
export class ControlFrame extends Frame {
  private controlSse: Buffer | undefined
  constructor(at: string, data: Record<string, unknown>) {
    super({ id: 0, type: 'control', at, data }, JSON.stringify({ type: 'control', at, data }))
  }
  override get sseBytes(): Buffer {
    return (this.controlSse ??= Buffer.from(`data: ${this.json}\n\n`))
  }
}

/** How long a control message waits for a screen that has no open connection (a long poll between requests). */
const CONTROL_HOLD_MS = 60_000

/** A persisted event as read back: its data is already JSON, so it is spliced in, not re-encoded. */
function storedFrame(id: number, type: string, atMs: number, data: string): Frame {
  const at = new Date(atMs).toISOString()
  let parsed: unknown
  const event = {
    id,
    type,
    at,
    get data() {
      return (parsed ??= JSON.parse(data))
    },
  }
  return new Frame(event, `{"id":${id},"type":${JSON.stringify(type)},"at":"${at}","data":${data}}`)
}

/**
 * What one answer or one burst of a resume may carry: a resume from far back (or from the start of
 * a 10,000-event buffer) is sent page by page — each page waits for the client to take the
 * previous one — so one request never makes the server build or hold more than this.
 */
export const REPLAY_PAGE_EVENTS = 500
export const REPLAY_PAGE_BYTES = 256 * 1024

/**
 * A snapshot's state (every pipeline tile, every site) is built once per head and shared by every
 * client connecting meanwhile; it is rebuilt after this long even at the same head, for state that
 * changes without an event.
 */
const SNAPSHOT_TTL_MS = 1000

export interface ReplayPage {
  frames: Frame[]
  /** The id the page scanned through: the next page starts after it. */
  through: number
}

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
  transport: 'ws' | 'sse' | 'poll'
  /** The dashboard version the client runs (`?client=`), else this server's: a page just loaded runs it. */
  version: string
  connectedAt: number
  address: string
  userAgent: string | null
}

/** Not an event of the stream (no id): tells clients and proxies the connection is alive. */
export class Heartbeat {
  readonly json: string
  readonly utf8: Buffer
  readonly sseBytes: Buffer
  constructor(at: string) {
    this.json = JSON.stringify({ type: 'heartbeat', at })
    this.utf8 = Buffer.from(this.json)
    // The comment is for proxies; the data line lets page code see the connection is alive.
    this.sseBytes = Buffer.from(`: heartbeat\ndata: ${this.json}\n\n`)
  }
}

/** `null` = every topic. A topic matches a type equal to it or starting with `topic.`. */
export type Topics = ReadonlySet<string> | null

export function parseTopics(param: string | null | undefined): Topics {
  if (!param) return null
  const set = new Set<string>()
  for (const t of param.split(',')) {
    const s = t.trim().toLowerCase()
    if (!s) continue
    set.add(s)
    // `builds` and `build` both mean the build.* events; `metrics` → metric.
    if (s.endsWith('s')) set.add(s.slice(0, -1))
  }
  return set.size ? set : null
}

export function matches(topics: Topics, type: string): boolean {
  if (!topics) return true
  if (topics.has(type)) return true
  const dot = type.indexOf('.')
  return dot > 0 && topics.has(type.slice(0, dot))
}

export interface HubOptions {
  version: string
  replayBuffer: number
  retentionMs: number
  /** Sent in the snapshot so a screen knows how much silence means trouble. */
  heartbeatMs: number
  pollTimeoutMs: number
  now?: () => number
}

export interface Connection {
  snapshot: Frame
  /** Where the replay starts (the client's resume point), or null when the snapshot is all it needs. */
  resumeAfter: number | null
}

const ID_BLOCK = 1000

export class Hub {
  private clients = new Set<LiveClient>()
  /** Connected, still being sent their snapshot and replay: counted and closed, not yet fanned out to. */
  private joining = new Set<LiveClient>()
  private ring: Frame[] = []
  /** Every event with id > ringFloor is in `ring`. */
  private ringFloor: number
  private latestTransient = new Map<string, Frame>()
  /** Persisted in the open transaction, not yet committed. */
  private pending: Frame[] = []
  /**
   * Frames in id order waiting to go out: persisted ones until their COMMIT is durable, and any
   * transient one behind them, so clients always see ids increasing and never an event that a
   * crash could take back.
   */
  private outbox: { frame: Frame; ready: boolean }[] = []
  /** The id of the newest frame sent to clients: the snapshot's head and the resume limit. */
  private sentThrough: number
  private nextId: number
  private reservedThrough: number
  private trimmedThrough: number
  private snapshotProviders = new Map<keyof SnapshotState, () => unknown>()
  private snapshotCache: { head: number; builtAt: number; state: Record<string, unknown>; json: string } | undefined
  private stmts
  private now: () => number

  constructor(
    store: Store,
    private writer: Writer,
    private opts: HubOptions
  ) {
    const s = store.sqlite
    this.now = opts.now ?? Date.now
    this.stmts = {
      getMeta: s.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
      setMeta: s.prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'
      ),
      maxId: s.prepare<[], { id: number | null }>('SELECT max(id) AS id FROM events'),
      insert: s.prepare('INSERT INTO events (id, type, at, data) VALUES (?, ?, ?, ?)'),
      page: s.prepare<[number, number, number], { id: number; type: string; at: number; data: string }>(
        'SELECT id, type, at, data FROM events WHERE id > ? AND id <= ? ORDER BY id LIMIT ?'
      ),
    }
    const reserved = Number(this.stmts.getMeta.get('event_id_reserved')?.value ?? 0)
    const maxPersisted = this.stmts.maxId.get()?.id ?? 0
    this.trimmedThrough = Number(this.stmts.getMeta.get('events_trimmed_through')?.value ?? 0)
    // Ids handed out before a restart may have gone to transient events that were never stored,
    // so the sequence continues above everything that was reserved, not above what was persisted.
    this.nextId = Math.max(reserved, maxPersisted) + 1
    this.reservedThrough = this.nextId - 1
    this.ringFloor = this.nextId - 1
    this.sentThrough = this.nextId - 1

    type Entry = (typeof this.outbox)[number]
    writer.addHooks<Entry[], { pending: number; reserved: number }>({
      mark: () => ({ pending: this.pending.length, reserved: this.reservedThrough }),
      rollback: (mark) => {
        this.pending.length = mark.pending
        this.reservedThrough = mark.reserved
      },
      committed: () => {
        const entries = this.pending.map((frame) => ({ frame, ready: false }))
        this.pending = []
        this.outbox.push(...entries)
        return entries
      },
      durable: (entries) => {
        for (const e of entries) e.ready = true
        this.release()
      },
      lost: (entries) => {
        const gone = new Set(entries)
        this.outbox = this.outbox.filter((e) => !gone.has(e))
        this.release()
      },
    })
  }

  /** The id of the newest event sent to clients (a resume point beyond it was never issued). */
  get head(): number {
    return this.sentThrough
  }

  /** This server's version (what a freshly loaded page runs). */
  get version(): string {
    return this.opts.version
  }

  get clientCount(): number {
    return this.clients.size + this.joining.size
  }

  /** Events fanned out, and frames handed to clients for them (for /metrics, read when scraped). */
  readonly stats = { published: 0, sent: 0 }

  /** Events held for resuming clients. */
  get replayDepth(): number {
    return this.ring.length
  }

  /** Open connections per transport (for /metrics: counted when scraped, not kept). */
  clientsByTransport(): Map<string, number> {
    const n = new Map<string, number>()
    for (const set of [this.clients, this.joining])
      for (const c of set) if (c.meta) n.set(c.meta.transport, (n.get(c.meta.transport) ?? 0) + 1)
    return n
  }

  addSnapshot<K extends keyof SnapshotState>(name: K, provider: () => SnapshotState[K]): void {
    this.snapshotProviders.set(name, provider)
  }

  private allocate(): number {
    if (this.nextId > this.reservedThrough) {
      this.reservedThrough = this.nextId + ID_BLOCK - 1
      // Inside a writer transaction this commits (or rolls back) with it; outside it is its own
      // tiny autocommit, a few times per thousand transient events.
      this.stmts.setMeta.run('event_id_reserved', String(this.reservedThrough))
    }
    return this.nextId++
  }

  private iso(): string {
    return new Date(this.now()).toISOString()
  }

  /**
   * Persists an event; must be called inside a writer op (`writer.write(sqlite => ...)`). It is
   * sent once the transaction's COMMIT is durable, and discarded if it rolls back.
   */
  persist<T extends EventType>(sqlite: Sqlite, type: T, data: EventData<T>): LiveEvent<EventData<T>> {
    if (!sqlite.inTransaction) throw new Error('hub.persist must run inside a writer transaction')
    const ev = { id: this.allocate(), type, at: this.iso(), data }
    const frame = new Frame(ev)
    this.stmts.insert.run(ev.id, type, Date.parse(ev.at), JSON.stringify(data))
    this.pending.push(frame)
    return ev
  }

  /**
   * Publishes a fast-changing value now, without storing it. Only the latest per `key` is kept
   * for clients that resume from before the in-memory buffer.
   */
  publish<T extends EventType>(type: T, data: EventData<T>, key: string = type): LiveEvent {
    const frame = new Frame({ id: this.allocate(), type, at: this.iso(), data })
    this.latestTransient.set(key, frame)
    if (this.outbox.length === 0) this.fanOut(frame)
    else this.outbox.push({ frame, ready: true })
    return frame.event
  }

  /** Sends the outbox's ready frames up to the first one still waiting for its sync. */
  private release(): void {
    let n = 0
    while (n < this.outbox.length && this.outbox[n]!.ready) this.fanOut(this.outbox[n++]!.frame)
    if (n) this.outbox.splice(0, n)
  }

  private fanOut(frame: Frame): void {
    this.sentThrough = frame.event.id
    this.ring.push(frame)
    if (this.ring.length > this.opts.replayBuffer) {
      const dropped = this.ring.splice(0, this.ring.length - this.opts.replayBuffer)
      this.ringFloor = dropped[dropped.length - 1]!.event.id
    }
    let sent = 0
    for (const c of this.clients)
      if (matches(c.topics, frame.event.type)) {
        c.send(frame)
        sent++
      }
    this.stats.published++
    this.stats.sent += sent
  }

  /** The providers' state, built at most once per head (and per SNAPSHOT_TTL_MS). */
  private snapshotState(): { state: Record<string, unknown>; json: string } {
    const now = this.now()
    const c = this.snapshotCache
    if (c && c.head === this.head && now - c.builtAt < SNAPSHOT_TTL_MS && now >= c.builtAt) return c
    const state: Record<string, unknown> = {}
    for (const [name, p] of this.snapshotProviders) state[name] = p()
    this.snapshotCache = { head: this.head, builtAt: now, state, json: JSON.stringify(state) }
    return this.snapshotCache
  }

  /**
   * The first frame of a connection. A resuming client (`resumed`) already has the state and gets
   * the replay after it, so its snapshot carries only the connection's facts: a room of screens
   * reconnecting after a restart gets well under 1 KB each instead of every tile (180 KB with 200
   * pipelines, bench/storm.ts).
   */
  private snapshotFrame(id: number, reset: boolean, resumed = false): Frame {
    const at = this.iso()
    const meta: SnapshotData = {
      version: this.opts.version,
      serverTime: at,
      head: this.head,
      reset,
      resumed,
      heartbeatMs: this.opts.heartbeatMs,
      pollTimeoutMs: this.opts.pollTimeoutMs,
    }
    if (resumed) return new Frame({ id, type: 'snapshot', at, data: meta })
    const { state, json } = this.snapshotState()
    // The state's JSON is spliced in rather than encoded again for every connecting client.
    const inner = json.slice(1, -1)
    const data = JSON.stringify(meta).slice(0, -1) + (inner ? `,${inner}}` : '}')
    const event: LiveEvent = { id, type: 'snapshot', at, data: { ...meta, ...state } }
    return new Frame(event, `{"id":${id},"type":"snapshot","at":"${at}","data":${data}}`)
  }

  /** Whether a client at `since` can be brought up to date by replay (not trimmed, an id we issued). */
  private resumable(since: number): boolean {
    return since <= this.head && since >= this.trimmedThrough
  }

  /**
   * One page of what a client resuming after `since` must receive: at most REPLAY_PAGE_EVENTS
   * events or REPLAY_PAGE_BYTES bytes (at least one event). Null when resuming from `since` is no
   * longer possible (trimmed, or an id this server never issued): the client then gets a reset
   * snapshot. The client is caught up when `through` reaches the head.
   */
  replayPage(
    since: number,
    topics: Topics,
    maxEvents = REPLAY_PAGE_EVENTS,
    maxBytes = REPLAY_PAGE_BYTES
  ): ReplayPage | null {
    if (!this.resumable(since)) return null
    const frames: Frame[] = []
    let bytes = 0
    let through = since
    /** Adds a frame the client wants; false once the page is full. */
    const take = (f: Frame): boolean => {
      through = f.event.id
      if (matches(topics, f.event.type)) {
        frames.push(f)
        bytes += f.bytes
      }
      return frames.length < maxEvents && bytes < maxBytes
    }
    if (since < this.ringFloor) {
      // Older than the in-memory ring: persisted events from SQLite, a page at a time (a bounded
      // read, so a far resume never holds the event loop for long), plus the latest transient
      // values that fall in the same range.
      const rows = this.stmts.page.all(since, this.ringFloor, maxEvents)
      const scanned = rows.length < maxEvents ? this.ringFloor : rows[rows.length - 1]!.id
      const page = rows.map((r) => storedFrame(r.id, r.type, r.at, r.data))
      for (const f of this.latestTransient.values()) if (f.event.id > since && f.event.id <= scanned) page.push(f)
      page.sort((a, b) => a.event.id - b.event.id)
      for (const f of page) if (!take(f)) return { frames, through }
      return { frames, through: scanned }
    }
    for (let i = this.firstAfter(since); i < this.ring.length; i++) if (!take(this.ring[i]!)) return { frames, through }
    // The ring holds every frame up to the head.
    return { frames, through: Math.max(through, this.sentThrough) }
  }

  /** Every frame a client resuming after `since` must receive, unpaged (tests; small ranges). */
  replaySince(since: number, topics: Topics): Frame[] | null {
    const out: Frame[] = []
    for (let at = since; ; ) {
      const page = this.replayPage(at, topics)
      if (!page) return out.length ? out : null
      out.push(...page.frames)
      if (page.through >= this.head || page.through === at) return out
      at = page.through
    }
  }

  private firstAfter(id: number): number {
    let lo = 0
    let hi = this.ring.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.ring[mid]!.event.id <= id) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /**
   * What a connecting client is sent first: a snapshot, then (when it resumes) the replay after
   * `resumeAfter`, page by page through `replayPage`, before it subscribes.
   */
  open(since: number | null): Connection {
    if (since === null) return { snapshot: this.snapshotFrame(this.head, false), resumeAfter: null }
    if (!this.resumable(since)) return { snapshot: this.snapshotFrame(this.head, true), resumeAfter: null }
    // The snapshot carries the resume point as its id, so ids on the wire keep increasing.
    return { snapshot: this.snapshotFrame(since, false, true), resumeAfter: since }
  }

  /** Counts a connecting client (closed on shutdown) while it catches up; it gets no live frames yet. */
  join(client: LiveClient): void {
    this.joining.add(client)
  }

  /**
   * Starts sending live frames to a client. Called in the same turn as the last replay page that
   * reached the head, so no event falls between the replay and the live stream.
   */
  subscribe(client: LiveClient): void {
    this.joining.delete(client)
    this.clients.add(client)
  }

  disconnect(client: LiveClient): void {
    this.joining.delete(client)
    this.clients.delete(client)
  }

  /** Sends a heartbeat to every client; the transports also use it to drop dead peers. */
  tick(): void {
    const hb = new Heartbeat(this.iso())
    for (const c of this.clients) c.tick?.(hb)
  }

  private heldControls = new Map<string, { frame: ControlFrame; until: number }[]>()

  /**
   * Sends a control message to every connection of one credential (a screen's session). When none
   * is open — a long-polling screen between two polls — it is held for CONTROL_HOLD_MS and given to
   * its next poll (`takeControls`). Returns how many connections it reached.
   */
  control(principal: string, data: Record<string, unknown>): number {
    const frame = new ControlFrame(this.iso(), data)
    let n = 0
    for (const c of [...this.clients, ...this.joining])
      if (c.principal === principal) {
        c.send(frame)
        n++
      }
    if (n === 0) {
      const now = this.now()
      const held = (this.heldControls.get(principal) ?? []).filter((h) => h.until > now)
      held.push({ frame, until: now + CONTROL_HOLD_MS })
      this.heldControls.set(principal, held.slice(-10))
      if (this.heldControls.size > 1000) this.heldControls.delete(this.heldControls.keys().next().value!)
    }
    return n
  }

  /** Control messages held for a credential that had no open connection. */
  takeControls(principal: string | null): ControlFrame[] {
    if (!principal) return []
    const held = this.heldControls.get(principal)
    if (!held) return []
    this.heldControls.delete(principal)
    const now = this.now()
    return held.filter((h) => h.until > now).map((h) => h.frame)
  }

  /** The open connections of one credential. */
  connectionsOf(principal: string): ClientMeta[] {
    const out: ClientMeta[] = []
    for (const c of [...this.clients, ...this.joining]) if (c.principal === principal && c.meta) out.push(c.meta)
    return out
  }

  /** Closes the clients `pick` chooses (a revoked credential's: 4401). */
  closeWhere(pick: (c: LiveClient) => boolean, code: number, reason: string): number {
    let n = 0
    for (const c of [...this.clients, ...this.joining])
      if (pick(c)) {
        this.disconnect(c)
        c.close(code, reason)
        n++
      }
    return n
  }

  /** Closes every client (shutdown: 1001 going away). */
  closeAll(code: number, reason: string): void {
    for (const c of [...this.clients, ...this.joining]) {
      this.disconnect(c)
      c.close(code, reason)
    }
  }

  /** Deletes persisted events older than the retention; runs through the writer, off the request path. */
  async trim(): Promise<number> {
    const cutoff = this.now() - this.opts.retentionMs
    const r = await this.writer.write((sqlite) => {
      const row = sqlite
        .prepare<[number], { id: number | null }>('SELECT max(id) AS id FROM events WHERE at < ?')
        .get(cutoff)
      if (!row?.id) return { n: 0, through: 0 }
      const n = sqlite.prepare('DELETE FROM events WHERE id <= ?').run(row.id).changes
      this.stmts.setMeta.run('events_trimmed_through', String(row.id))
      return { n, through: row.id }
    })
    this.trimmedThrough = Math.max(this.trimmedThrough, r.through)
    return r.n
  }
}
