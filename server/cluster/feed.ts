/**
 * @module The hub's link to the cluster's live stream (server/live/hub.ts uses it when DATABASE_URL
 * and LIVE_BUS_URL are set). What an instance persists goes into the event log with its writer's
 * COMMIT (event-log.ts); what it publishes goes to the leader's relay (relay.ts); what its screens
 * receive comes back from the one JetStream stream (stream.ts), whose sequence is the id they see and
 * resume from on any instance.
 *
 * Where an instance starts: at the stream's tail as it reads it at start-up. State a capability keeps
 * in memory for the snapshot (the board's tiles) is loaded from PostgreSQL in one REPEATABLE READ
 * transaction that also reads the event log's counter K, so that state is exactly "every event up to
 * K applied". Stream events carry the newest event-log id relayed with them (`through`); the view
 * applies only those with `through` > K, so nothing is applied twice and nothing is skipped. Screens
 * are served only once the stream has reached K (`caughtUp`): before that, a snapshot labelled with
 * an older head would carry newer state than the events that follow it.
 */
import type pg from 'pg'
import { PendingEvents } from './event-log.ts'
import { sendTransient } from './relay.ts'
import type { LiveStream, StreamEvent } from './stream.ts'

/** In-memory state fed by the stream (server/live/hub.ts `addView`). */
export interface StreamView {
  /** Reads the state as of the transaction's snapshot (called once, at start-up). */
  load(tx: pg.ClientBase): Promise<void>
}

/** The wait before following the stream again after the consumer ended. */
const REFOLLOW_MS = 500

/** How often the stream's first sequence is re-read (a resume from before it is a reset). */
const FLOOR_EVERY_MS = 60_000

export class ClusterFeed {
  /** The writer's hook: events persisted in its open transaction (add it to the PgWriter). */
  readonly pending = new PendingEvents()
  /** Sequences up to this are gone from the stream (trimmed by age or size). */
  trimmedThrough = 0
  /** The event-log id the views were loaded at. */
  loadedThrough = 0
  /** The newest event-log id this instance has received from the stream. */
  receivedThrough = 0
  private follower: { stop(): void } | null = null
  private floorAt = 0
  /** The newest stream sequence handed to the hub: a re-follow starts after it. */
  private deliveredSeq = 0
  private stopped = false
  /**
   * Whether this instance is connected to NATS. While it is not, the hub sends no heartbeats, so
   * screens see the silence, say their data is stale and reconnect (through the proxy, likely to an
   * instance that is connected), and /healthz answers 503.
   */
  connected = true

  constructor(
    readonly stream: LiveStream,
    private pool: pg.Pool,
    private onError: (e: unknown) => void
  ) {}

  /**
   * Loads the views and starts following the stream after its current tail; returns that tail (the
   * hub's head). `deliver` gets every later event, in order.
   */
  async start(
    views: readonly StreamView[],
    deliver: (ev: StreamEvent) => void,
    /** Called with the tail before the first event can be delivered (the hub sets its head there). */
    at: (tailSeq: number) => void
  ): Promise<number> {
    // Tail first, counter second: every event at or below the tail has `through` ≤ the counter.
    const tail = await this.stream.tail()
    const c = await this.pool.connect()
    try {
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
      const r = await c.query<{ value: string }>(`SELECT value FROM meta WHERE key = 'event_id'`)
      this.loadedThrough = Number(r.rows[0]?.value ?? 0)
      for (const v of views) await v.load(c)
      await c.query('COMMIT')
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {})
      throw e
    } finally {
      c.release()
    }
    this.receivedThrough = tail.through ?? 0
    await this.refreshFloor(true)
    this.deliveredSeq = tail.seq
    at(tail.seq)
    this.watchConnection()
    await this.follow(deliver)
    return tail.seq
  }

  /**
   * Follows the stream after the last sequence delivered, and again after that, whenever the
   * consumer ends without being stopped (a NATS error it gave up on): a follower that silently
   * stopped would leave this instance's screens on old data while its heartbeats say all is well.
   */
  private async follow(deliver: (ev: StreamEvent) => void): Promise<void> {
    const f = await this.stream.follow(this.deliveredSeq, (ev) => {
      if (ev.id <= this.deliveredSeq) return
      this.deliveredSeq = ev.id
      this.receivedThrough = Math.max(this.receivedThrough, ev.through)
      deliver(ev)
    })
    this.follower = f
    f.done.then(
      () => this.again(deliver),
      (e) => {
        this.onError(e)
        this.again(deliver)
      }
    )
  }

  private again(deliver: (ev: StreamEvent) => void): void {
    if (this.stopped) return
    setTimeout(() => {
      if (this.stopped) return
      this.follow(deliver).catch((e) => {
        this.onError(e)
        this.again(deliver)
      })
    }, REFOLLOW_MS).unref()
  }

  /** Tracks the NATS connection: while it is down this instance's screens are not getting the stream. */
  private watchConnection(): void {
    void (async () => {
      for await (const s of this.stream.nc.status()) {
        if (s.type === 'disconnect') this.connected = false
        else if (s.type === 'reconnect') this.connected = true
      }
    })().catch((e) => this.onError(e))
  }

  /** Whether the stream has delivered everything the views were loaded with. */
  get caughtUp(): boolean {
    return this.receivedThrough >= this.loadedThrough
  }

  /** An event persisted inside the PgWriter's open transaction: in the log with its COMMIT. */
  persist(type: string, at: number, data: string): void {
    this.pending.add({ type, at, data })
  }

  /** A transient event: to the leader's relay, at most once. */
  transient(type: string, at: number, data: string): void {
    try {
      sendTransient(this.stream, { type, at, data })
    } catch (e) {
      this.onError(e)
    }
  }

  /** Events with `after` < id ≤ `through`, at most `limit`, from the stream; null when trimmed. */
  async page(after: number, through: number, limit: number): Promise<StreamEvent[] | null> {
    const got = await this.stream.range(after, Math.min(through, after + limit))
    if (got === null) await this.refreshFloor(true)
    return got
  }

  /** Re-reads how far the stream was trimmed, at most once a minute unless `now`. */
  async refreshFloor(now = false): Promise<void> {
    if (!now && Date.now() - this.floorAt < FLOOR_EVERY_MS) return
    this.floorAt = Date.now()
    try {
      this.trimmedThrough = (await this.stream.firstSeq()) - 1
    } catch (e) {
      this.onError(e)
    }
  }

  stop(): void {
    this.stopped = true
    this.follower?.stop()
    this.follower = null
  }
}
