/**
 * @module The live hub: one ordered stream of events, fanned out to every connected client over any
 * transport. It coordinates the parts that each hold one idea: ids (sequence.ts), the order frames
 * go out in around the writer's commits (outbox.ts), replay for resuming clients (replay.ts,
 * stored-events.ts), the first frame of a connection (snapshot.ts), who is connected (clients.ts)
 * and control messages held for a screen (control.ts). Framing is beside each transport.
 */
import type { EventData, EventType, SnapshotState } from '../../contract/live.ts'
import type { Sqlite, Store } from '../db/client.ts'
import { metaOf } from '../db/meta.ts'
import type { Writer } from '../db/writer.ts'
import type pg from 'pg'
import type { ClusterFeed, StreamView } from '../cluster/feed.ts'
import type { StreamEvent } from '../cluster/stream.ts'
import { RETENTION_BATCH } from '../jobs/retention.ts'
import { type ClientMeta, Clients, type LiveClient } from './clients.ts'
import { HeldControls } from './control.ts'
import { ControlFrame, Frame, Heartbeat, type LiveEvent } from './frame.ts'
import { Outbox } from './outbox.ts'
import { Replay, type ReplayPage, type ReplaySource } from './replay.ts'
import { EventSequence } from './sequence.ts'
import { Snapshots } from './snapshot.ts'
import { StoredEvents, storedFrame } from './stored-events.ts'
import type { Topics } from './topics.ts'

/** The types of the hub's API, for its callers. */
export type { ClientMeta, Frame, LiveClient, LiveEvent }

/** How long a resuming client waits for this instance to receive the id it resumes from (cluster). */
const REACH_MS = 3000

export interface HubOptions {
  version: string
  replayBuffer: number
  retentionMs: number
  /** Sent in the snapshot so a screen knows how much silence means trouble. */
  heartbeatMs: number
  pollTimeoutMs: number
  now?: () => number
  /** A view's `apply` threw (the event still goes out to clients). */
  onViewError?: (e: unknown, event: LiveEvent) => void
}

export interface Connection {
  snapshot: Frame
  /** Where the replay starts (the client's resume point), or null when the snapshot is all it needs. */
  resumeAfter: number | null
}

/**
 * In-memory state a capability keeps for the snapshot, fed by the live stream (in a cluster, where
 * the snapshot cannot read PostgreSQL synchronously): `apply` sees every event before any client
 * does, in id order; `load` (cluster/feed.ts) fills it at start-up.
 */
export interface LiveView extends StreamView {
  apply(event: LiveEvent): void
}

export class Hub {
  /** Alone (SQLite): ids, stored events and the order around the writer's commits. */
  private sequence: EventSequence | null = null
  private stored: StoredEvents | null = null
  private outbox: Outbox | null = null
  /** In a cluster: the event log and the JetStream stream (ids are the stream's sequence). */
  private cluster: ClusterFeed | null = null
  private views: LiveView[] = []
  private replay: Replay
  private snapshots: Snapshots
  private clients = new Clients()
  private controls: HeldControls
  private now: () => number

  /** Events fanned out, and frames handed to clients for them (for /metrics, read when scraped). */
  readonly stats = { published: 0, sent: 0 }

  /** A hub alone, on SQLite. */
  constructor(store: Store, writer: Writer, opts: HubOptions)
  /** A hub in a cluster (`Hub.inCluster`): call `startCluster` before serving. */
  constructor(store: null, writer: null, opts: HubOptions, cluster: ClusterFeed)
  constructor(
    store: Store | null,
    private writer: Writer | null,
    private opts: HubOptions,
    cluster?: ClusterFeed
  ) {
    this.now = opts.now ?? Date.now
    let source: ReplaySource
    let head: number
    if (store && writer) {
      const meta = metaOf(store.sqlite)
      this.stored = new StoredEvents(store.db, meta)
      this.sequence = new EventSequence(meta, this.stored.maxId(), writer)
      this.outbox = new Outbox(writer, (frame) => this.fanOut(frame))
      source = this.stored
      head = this.sequence.last
    } else {
      const feed = cluster!
      this.cluster = feed
      source = {
        get trimmedThrough() {
          return feed.trimmedThrough
        },
        page: (after, through, limit) =>
          feed.page(after, through, limit).then((evs) => (evs === null ? null : evs.map(streamFrame))),
      }
      // Set by startCluster, before any client is served.
      head = 0
    }
    this.replay = new Replay(source, opts.replayBuffer, head)
    this.snapshots = new Snapshots(opts, this.now)
    this.controls = new HeldControls(this.now)
  }

  static inCluster(feed: ClusterFeed, opts: HubOptions): Hub {
    return new Hub(null, null, opts, feed)
  }

  /**
   * Loads the views and follows the cluster's stream from its tail (cluster/feed.ts); resolves once
   * the stream has caught up with what the views were loaded at, or after `waitMs` (a relay that is
   * not running yet: its leader is still starting), saying which.
   */
  async startCluster(waitMs: number): Promise<boolean> {
    const feed = this.cluster
    if (!feed) throw new Error('startCluster: this hub is not in a cluster')
    await feed.start(
      this.views,
      (ev) => {
        const frame = streamFrame(ev)
        // Views loaded through K already hold every event up to K.
        if (ev.through > feed.loadedThrough) this.applyViews(frame.event)
        this.fanOut(frame)
      },
      // Before the first event arrives: the replay starts at the stream's tail.
      (head) => {
        this.replay = new Replay(this.replay.source, this.opts.replayBuffer, head)
      }
    )
    const until = Date.now() + waitMs
    while (!feed.caughtUp && Date.now() < until) await new Promise((r) => setTimeout(r, 10))
    return feed.caughtUp
  }

  /**
   * In a cluster, a client may resume from an id another instance has already sent it while this
   * one has not received that event yet (milliseconds behind). Resolves once this hub's head reaches
   * `since`, or after REACH_MS (an id the stream never issued: open() then answers with a reset).
   * Null when there is nothing to wait for, so a caller alone on SQLite adds no turn.
   */
  reach(since: number | null): Promise<void> | null {
    if (!this.cluster || since === null || since <= this.head) return null
    return new Promise((resolve) => {
      const w = { at: since, resolve, timer: setTimeout(() => this.release(w), REACH_MS) }
      this.reaching.add(w)
    })
  }

  private reaching = new Set<{ at: number; resolve: () => void; timer: NodeJS.Timeout }>()

  private release(w: { resolve: () => void; timer: NodeJS.Timeout }): void {
    clearTimeout(w.timer)
    this.reaching.delete(w as never)
    w.resolve()
  }

  /** Null alone or while connected; in a cluster cut off from NATS, why (for /healthz). */
  get streamProblem(): string | null {
    return this.cluster && !this.cluster.connected ? 'disconnected from NATS (the live stream)' : null
  }

  /**
   * A view that cannot take an event (one it did not expect the shape of) must not keep it from the
   * clients: the stream has moved past it either way. Reported to `onViewError` (the log).
   */
  private applyViews(event: LiveEvent): void {
    for (const v of this.views)
      try {
        v.apply(event)
      } catch (e) {
        this.opts.onViewError?.(e, event)
      }
  }

  /** Adds in-memory state fed by the stream (see LiveView). */
  addView(view: LiveView): void {
    this.views.push(view)
  }

  /** The id of the newest event sent to clients (a resume point beyond it was never issued). */
  get head(): number {
    return this.replay.head
  }

  /** This server's version (what a freshly loaded page runs). */
  get version(): string {
    return this.opts.version
  }

  get clientCount(): number {
    return this.clients.count
  }

  /** Events held for resuming clients. */
  get replayDepth(): number {
    return this.replay.depth
  }

  /** Open connections per transport (for /metrics: counted when scraped, not kept). */
  clientsByTransport(): Map<string, number> {
    return this.clients.byTransport()
  }

  addSnapshot<K extends keyof SnapshotState>(name: K, provider: () => SnapshotState[K]): void {
    this.snapshots.add(name, provider)
  }

  private iso(): string {
    return new Date(this.now()).toISOString()
  }

  /**
   * Persists an event; must be called inside a writer op (`writer.write(sqlite => ...)`). It is
   * sent once the transaction's COMMIT is durable, and discarded if it rolls back.
   */
  persist<T extends EventType>(tx: Sqlite | pg.ClientBase, type: T, data: EventData<T>): LiveEvent<EventData<T>> {
    const at = this.now()
    if (this.cluster) {
      // Its id is given at COMMIT by the event log and becomes the stream's sequence once relayed.
      this.cluster.persist(type, at, JSON.stringify(data))
      return { id: 0, type, at: new Date(at).toISOString(), data }
    }
    if (!(tx as Sqlite).inTransaction) throw new Error('hub.persist must run inside a writer transaction')
    const ev = { id: this.sequence!.take(), type, at: new Date(at).toISOString(), data }
    this.stored!.insert(ev.id, type, at, JSON.stringify(data))
    this.outbox!.persisted(new Frame(ev))
    return ev
  }

  /**
   * Publishes a fast-changing value now, without storing it. Only the latest per `key` is kept
   * for clients that resume from before the in-memory buffer. In a cluster it goes through the
   * leader's relay into the stream (id 0 here: the stream gives it one).
   */
  publish<T extends EventType>(type: T, data: EventData<T>, key: string = type): LiveEvent {
    if (this.cluster) {
      const at = this.now()
      this.cluster.transient(type, at, JSON.stringify(data))
      return { id: 0, type, at: new Date(at).toISOString(), data }
    }
    const frame = new Frame({ id: this.sequence!.take(), type, at: this.iso(), data })
    this.replay.keepLatest(key, frame)
    this.outbox!.transient(frame)
    return frame.event
  }

  private fanOut(frame: Frame): void {
    if (!this.cluster) this.applyViews(frame.event)
    this.replay.sent(frame)
    if (this.reaching.size) for (const w of this.reaching) if (w.at <= frame.event.id) this.release(w)
    this.stats.published++
    this.stats.sent += this.clients.fanOut(frame)
  }

  /**
   * One page of what a client resuming after `since` must receive (replay.ts), or null when it can
   * no longer resume from there.
   */
  replayPage(
    since: number,
    topics: Topics,
    maxEvents?: number,
    maxBytes?: number
  ): ReplayPage | null | Promise<ReplayPage | null> {
    return this.replay.page(since, topics, maxEvents, maxBytes)
  }

  /** Every frame a client resuming after `since` must receive, unpaged (tests; small ranges). */
  replaySince(since: number, topics: Topics): Frame[] | null {
    return this.replay.since(since, topics)
  }

  /**
   * What a connecting client is sent first: a snapshot, then (when it resumes) the replay after
   * `resumeAfter`, page by page through `replayPage`, before it subscribes.
   */
  open(since: number | null): Connection {
    const head = this.head
    if (since === null) return { snapshot: this.snapshots.frame(head, head, false), resumeAfter: null }
    if (!this.replay.resumable(since)) return { snapshot: this.snapshots.frame(head, head, true), resumeAfter: null }
    // The snapshot carries the resume point as its id, so ids on the wire keep increasing. Built
    // when read: a long poll resuming mid-stream without `?snapshot=1` never sends it.
    const snapshots = this.snapshots
    let snapshot: Frame | undefined
    return {
      get snapshot() {
        return (snapshot ??= snapshots.frame(since, head, false, true))
      },
      resumeAfter: since,
    }
  }

  /** Counts a connecting client (closed on shutdown) while it catches up; it gets no live frames yet. */
  join(client: LiveClient): void {
    this.clients.join(client)
  }

  /**
   * Starts sending live frames to a client. Called in the same turn as the last replay page that
   * reached the head, so no event falls between the replay and the live stream.
   */
  subscribe(client: LiveClient): void {
    this.clients.subscribe(client)
  }

  disconnect(client: LiveClient): void {
    this.clients.remove(client)
  }

  /** Sends a heartbeat to every client; the transports also use it to drop dead peers. */
  tick(): void {
    // Cut off from the cluster's stream: silence, so screens say they are stale (cluster/feed.ts).
    if (this.cluster && !this.cluster.connected) return
    this.clients.tick(new Heartbeat(this.iso()))
    void this.cluster?.refreshFloor()
  }

  /**
   * Sends a control message to every connection of one credential (a screen's session). When none
   * is open — a long-polling screen between two polls — it is held and given to its next connection
   * (`takeControls`). Returns how many connections it reached.
   */
  control(principal: string, data: Record<string, unknown>): number {
    const frame = new ControlFrame(this.iso(), data)
    let n = 0
    for (const c of this.clients.all())
      if (c.principal === principal) {
        c.send(frame)
        n++
      }
    if (n === 0) this.controls.hold(principal, frame)
    return n
  }

  /** Control messages held for a credential that had no open connection. */
  takeControls(principal: string | null): ControlFrame[] {
    return this.controls.take(principal)
  }

  /** The open connections of one credential. */
  connectionsOf(principal: string): ClientMeta[] {
    const out: ClientMeta[] = []
    for (const c of this.clients.all()) if (c.principal === principal && c.meta) out.push(c.meta)
    return out
  }

  /** Closes the clients `pick` chooses (a revoked credential's: 4401). */
  closeWhere(pick: (c: LiveClient) => boolean, code: number, reason: string): number {
    let n = 0
    for (const c of this.clients.all())
      if (pick(c)) {
        this.disconnect(c)
        c.close(code, reason)
        n++
      }
    return n
  }

  /** Closes every client (shutdown: 1001 going away). */
  closeAll(code: number, reason: string): void {
    this.closeWhere(() => true, code, reason)
  }

  /**
   * Deletes persisted events older than the retention (a step of the retention sweep): through the
   * writer, RETENTION_BATCH events per op, so no delivery waits behind one long transaction.
   */
  async trim(stopping?: AbortSignal): Promise<number> {
    // In a cluster the stream ages out by itself (max age); the event log's rows are trimmed by the
    // leader's retention (cluster/event-log.ts `trimEventLog`).
    if (!this.stored || !this.writer) return 0
    const stored = this.stored
    const through = stored.newestBefore(this.now() - this.opts.retentionMs)
    if (!through) return 0
    let total = 0
    while (!stopping?.aborted) {
      const r = await this.writer.write(() => stored.trimThrough(through, RETENTION_BATCH))
      stored.trimmedThrough = Math.max(stored.trimmedThrough, r.through)
      total += r.n
      if (r.n < RETENTION_BATCH || r.through >= through) break
    }
    return total
  }

  /** Stops following the cluster's stream (shutdown). */
  stopCluster(): void {
    this.cluster?.stop()
  }
}

/** A stream event as a frame: its id is the stream sequence, its data already JSON. */
function streamFrame(ev: StreamEvent): Frame {
  return storedFrame(ev.id, ev.type, ev.at, ev.data)
}
