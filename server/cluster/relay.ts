/**
 * @module The leader's relay: every committed event from PostgreSQL, and every transient one (live
 * visitor counts, pushed metric points) from any instance, into the one JetStream stream, once each,
 * in order.
 *
 * Why one publisher and not every instance publishing its own events after its COMMIT: two instances
 * committing changes to the same build commit in one order (the row lock sees to that) but could
 * publish in the other, and screens would end on the older state. The relay publishes persisted
 * events in event-log id order, which is COMMIT order (event-log.ts).
 *
 * Why nothing is lost or doubled, whatever dies when:
 * - An instance that dies after its COMMIT and before anyone published: its events are rows in
 *   `events`; the relay reads rows, not messages from the committer, so they go out anyway.
 * - The leader dies mid-relay: the new leader reads the stream's last message, whose
 *   `Radiator-Through` header says the newest event id already published, and continues after it.
 * - Two relays at once (a leader deposed without knowing it yet): each publish names the sequence the
 *   stream must be at (expected-last-sequence). Only one of two publishes from the same point can
 *   succeed; the loser re-reads the stream's tail and carries on from there, so an event published by
 *   the other is not published again.
 * Transient events are not stored: one that was in flight to a leader that died is gone, which is
 * what transient means (the next count supersedes it).
 */
import type { Subscription } from '@nats-io/transport-node'
import type pg from 'pg'
import { EVENTS_CHANNEL, eventsAfter } from './event-log.ts'
import type { LiveStream } from './stream.ts'

/** Rows read per query while catching up. */
const PAGE = 500
/** A NOTIFY can be missed while the LISTEN connection reconnects: look anyway this often. */
const POLL_MS = 1000

export interface Transient {
  type: string
  at: number
  data: string
}

export class EventRelay {
  /** The stream's last sequence as this relay knows it. */
  private lastSeq = 0
  /** The newest event-log id published. */
  private through = 0
  private transients: Transient[] = []
  private listener: pg.PoolClient | null = null
  private inbox: Subscription | null = null
  private timer: NodeJS.Timeout | null = null
  private running: Promise<void> | null = null
  private again = false
  private stopped = false
  stats = { published: 0, conflicts: 0 }

  constructor(
    private pool: pg.Pool,
    private stream: LiveStream,
    private onError: (e: Error) => void = () => {}
  ) {}

  async start(): Promise<void> {
    this.stopped = false
    await this.resync()
    this.listener = await this.pool.connect()
    this.listener.on('notification', () => this.kick())
    this.listener.on('error', (e) => this.onError(e))
    await this.listener.query(`LISTEN ${EVENTS_CHANNEL}`)
    this.timer = setInterval(() => this.kick(), POLL_MS)
    // Transients from every instance (sendTransient) come to whoever relays now.
    this.inbox = this.stream.nc.subscribe(transientSubject(this.stream), { queue: 'relay' })
    void (async () => {
      for await (const m of this.inbox!) {
        const t = parseTransient(m.string())
        if (t) this.transient(t)
      }
    })()
    this.kick()
  }

  /** Queues a transient event: published after what is being relayed now. */
  transient(ev: Transient): void {
    if (this.stopped) return
    this.transients.push(ev)
    this.kick()
  }

  /** Runs the pump, or asks the running one to go round again. */
  private kick(): void {
    if (this.stopped) return
    if (this.running) {
      this.again = true
      return
    }
    this.running = this.pump()
      .catch((e) => this.onError(e as Error))
      .finally(() => {
        this.running = null
        if (this.again) {
          this.again = false
          this.kick()
        }
      })
  }

  private async pump(): Promise<void> {
    for (;;) {
      const rows = await eventsAfter(this.pool, this.through, PAGE)
      for (const r of rows) {
        if (this.stopped) return
        if (r.id <= this.through) continue // published by another relay meanwhile (after a conflict)
        if (!(await this.send({ type: r.type, at: r.at, data: r.data }, r.id))) break
      }
      // Transients go out between pages, so a long catch-up cannot hold visitor counts back for long.
      while (this.transients.length > 0 && !this.stopped) {
        const t = this.transients[0]!
        if (await this.send(t, this.through)) this.transients.shift()
      }
      if (rows.length > 0) await saveRelayedMark(this.pool, this.through)
      if (rows.length < PAGE) return
    }
  }

  /** Publishes at the expected point; on a conflict re-reads the tail and says so (false). */
  private async send(ev: Transient, through: number): Promise<boolean> {
    try {
      this.lastSeq = await this.stream.publish({ ...ev, through }, this.lastSeq)
      this.through = through
      this.stats.published++
      return true
    } catch (e) {
      if (!isWrongLastSequence(e)) throw e
      this.stats.conflicts++
      await this.resync()
      return false
    }
  }

  /**
   * Where the stream is. When no message is left to say how far the relay got (a new stream, or every
   * message aged out), the durable mark in `meta` says it; the header, when there is one, is newer.
   */
  private async resync(): Promise<void> {
    const tail = await this.stream.tail()
    this.lastSeq = tail.seq
    this.through = tail.through ?? (await relayedMark(this.pool))
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.inbox?.unsubscribe()
    this.inbox = null
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    await this.running?.catch(() => {})
    const l = this.listener
    this.listener = null
    if (l) {
      await l.query(`UNLISTEN ${EVENTS_CHANNEL}`).catch(() => {})
      l.release()
    }
  }
}

const transientSubject = (stream: LiveStream) => `${stream.opts.name}.transient`

/**
 * Hands a transient event to the cluster's relay, from any instance. Core NATS, at most once: a count
 * lost while the leader changes is superseded by the next one, and nothing waits for an answer.
 */
export function sendTransient(stream: LiveStream, ev: Transient): void {
  stream.nc.publish(transientSubject(stream), JSON.stringify(ev))
}

function parseTransient(text: string): Transient | null {
  try {
    const v = JSON.parse(text) as Partial<Transient>
    if (typeof v.type === 'string' && typeof v.at === 'number' && typeof v.data === 'string')
      return { type: v.type, at: v.at, data: v.data }
  } catch {}
  return null
}

async function relayedMark(db: pg.Pool): Promise<number> {
  const r = await db.query<{ value: string }>(`SELECT value FROM meta WHERE key = 'events_relayed_through'`)
  return Number(r.rows[0]?.value ?? 0)
}

/** Only ever moves forward: a deposed relay writing late cannot move it back. */
async function saveRelayedMark(db: pg.Pool, through: number): Promise<void> {
  await db.query(
    `INSERT INTO meta (key, value) VALUES ('events_relayed_through', $1)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE meta.value::bigint < excluded.value::bigint`,
    [String(through)]
  )
}

/** JetStream's answer when expected-last-sequence does not match (API error 10071). */
function isWrongLastSequence(e: unknown): boolean {
  const err = e as { api_error?: { err_code?: number }; code?: number; message?: string }
  return err?.api_error?.err_code === 10071 || /wrong last sequence/i.test(String(err?.message))
}
