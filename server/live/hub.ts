/**
 * @module The live hub: one ordered stream of events, fanned out to every connected client over any
 * transport. Ids come from one sequence that increases across restarts (a high-water mark is
 * reserved in `meta` in blocks). Events that matter later are persisted (inside the writer's
 * transaction, sent once its COMMIT is durable); fast-changing values are kept as the latest per key.
 */
import type { Sqlite, Store } from '../db/client.ts'
import type { Writer } from '../db/writer.ts'

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
  constructor(readonly event: LiveEvent) {
    this.json = JSON.stringify(event)
  }
  get sseBytes(): Buffer {
    return (this.sse ??= Buffer.from(`id: ${this.event.id}\ndata: ${this.json}\n\n`))
  }
}

export interface LiveClient {
  topics: Topics
  /** Delivers one frame (a transport cuts off a client that can't keep up). */
  send(frame: Frame): void
  /** Called every heartbeat interval: keep-alives, liveness checks. */
  tick?(heartbeat: Heartbeat): void
  close(code: number, reason: string): void
}

/** Not an event of the stream (no id): tells clients and proxies the connection is alive. */
export class Heartbeat {
  readonly json: string
  readonly sseBytes: Buffer
  constructor(at: string) {
    this.json = JSON.stringify({ type: 'heartbeat', at })
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

export type SnapshotProvider = () => unknown

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
  replay: Frame[]
}

const ID_BLOCK = 1000

export class Hub {
  private clients = new Set<LiveClient>()
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
  private snapshotProviders = new Map<string, SnapshotProvider>()
  private stmts
  private now: () => number

  constructor(
    private store: Store,
    private writer: Writer,
    private opts: HubOptions
  ) {
    const s = store.sqlite
    this.now = opts.now ?? Date.now
    this.stmts = {
      getMeta: s.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
      setMeta: s.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
      maxId: s.prepare<[], { id: number | null }>('SELECT max(id) AS id FROM events'),
      insert: s.prepare('INSERT INTO events (id, type, at, data) VALUES (?, ?, ?, ?)'),
      since: s.prepare<[number, number], { id: number; type: string; at: number; data: string }>(
        'SELECT id, type, at, data FROM events WHERE id > ? AND id <= ? ORDER BY id'
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

  get clientCount(): number {
    return this.clients.size
  }

  addSnapshot(name: string, provider: SnapshotProvider): void {
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
  persist(sqlite: Sqlite, type: string, data: unknown): LiveEvent {
    if (!sqlite.inTransaction) throw new Error('hub.persist must run inside a writer transaction')
    const ev: LiveEvent = { id: this.allocate(), type, at: this.iso(), data }
    const frame = new Frame(ev)
    this.stmts.insert.run(ev.id, type, Date.parse(ev.at), JSON.stringify(data))
    this.pending.push(frame)
    return ev
  }

  /**
   * Publishes a fast-changing value now, without storing it. Only the latest per `key` is kept
   * for clients that resume from before the in-memory buffer.
   */
  publish(type: string, data: unknown, key: string = type): LiveEvent {
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
    for (const c of this.clients) if (matches(c.topics, frame.event.type)) c.send(frame)
  }

  private snapshotFrame(id: number, reset: boolean): Frame {
    const state: Record<string, unknown> = {}
    for (const [name, p] of this.snapshotProviders) state[name] = p()
    return new Frame({
      id,
      type: 'snapshot',
      at: this.iso(),
      data: {
        version: this.opts.version,
        serverTime: this.iso(),
        head: this.head,
        reset,
        heartbeatMs: this.opts.heartbeatMs,
        pollTimeoutMs: this.opts.pollTimeoutMs,
        ...state,
      },
    })
  }

  /**
   * The frames a client resuming after `since` must receive, or null when that is no longer
   * possible (trimmed, or an id this server never issued): the client then gets a reset snapshot.
   */
  replaySince(since: number, topics: Topics): Frame[] | null {
    if (since > this.head || since < this.trimmedThrough) return null
    let frames: Frame[]
    if (since >= this.ringFloor) {
      frames = this.ring.slice(this.firstAfter(since))
    } else {
      const stored = this.stmts.since.all(since, this.sentThrough).map(
        (r) => new Frame({ id: r.id, type: r.type, at: new Date(r.at).toISOString(), data: JSON.parse(r.data) })
      )
      const transient = [...this.latestTransient.values()].filter((f) => f.event.id > since && f.event.id <= this.sentThrough)
      frames = [...stored, ...transient].sort((a, b) => a.event.id - b.event.id)
    }
    return topics ? frames.filter((f) => matches(topics, f.event.type)) : frames
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
   * Registers a client and returns what it must be sent first: a snapshot, then the replay.
   * Synchronous, so no event can fall between the replay and the live stream.
   */
  connect(client: LiveClient, since: number | null): Connection {
    const c = this.open(since, client.topics)
    this.clients.add(client)
    return c
  }

  /** The snapshot + replay for a request without registering a client (long polling). */
  open(since: number | null, topics: Topics): Connection {
    if (since === null) return { snapshot: this.snapshotFrame(this.head, false), replay: [] }
    const replay = this.replaySince(since, topics)
    if (!replay) return { snapshot: this.snapshotFrame(this.head, true), replay: [] }
    // The snapshot carries the resume point as its id, so ids on the wire keep increasing.
    return { snapshot: this.snapshotFrame(since, false), replay }
  }

  /** Registers a client for live frames only (no snapshot, no replay). */
  subscribe(client: LiveClient): void {
    this.clients.add(client)
  }

  disconnect(client: LiveClient): void {
    this.clients.delete(client)
  }

  /** Sends a heartbeat to every client; the transports also use it to drop dead peers. */
  tick(): void {
    const hb = new Heartbeat(this.iso())
    for (const c of this.clients) c.tick?.(hb)
  }

  /** Closes every client (shutdown: 1001 going away). */
  closeAll(code: number, reason: string): void {
    for (const c of [...this.clients]) {
      this.clients.delete(c)
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
