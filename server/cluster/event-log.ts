/**
 * @module The persisted events on PostgreSQL, with ids in COMMIT order.
 *
 * A PostgreSQL sequence would not do: ids are taken when a transaction asks, not when it commits,
 * so a reader that saw id 52 committed cannot know whether 51 is still coming (a slower transaction)
 * or never will (a rollback), and a relay that moved on would lose 51 for good. Instead every
 * transaction that writes events takes its ids by incrementing one counter row (`meta`
 * `event_id`) as its *last* statement before COMMIT. The row lock that UPDATE takes is held until
 * the transaction ends, so a second transaction asking for ids waits until the first has committed
 * (and then continues above it) or rolled back (and then reuses its ids). Hence: ids are gap-free,
 * and when id N is visible, every id below N is visible too. The relay (relay.ts) can read
 * `id > through` in order and never miss one.
 *
 * The price is that transactions writing events are serialized cluster-wide for the span of
 * that UPDATE, the inserts after it and the COMMIT — one group-commit batch at a time, each holding
 * the row for about one COMMIT's flush. Beacons write no events; build events are tens a second
 * at most, each batch carrying many.
 *
 * The same transaction NOTIFYs `radiator_events` with the new last id; PostgreSQL delivers
 * notifications only on COMMIT, and in commit order, so the relay wakes exactly when there is
 * something new to read.
 */
import type pg from 'pg'
import type { PgCommitHooks } from '../db/pg/writer.ts'

export const EVENTS_CHANNEL = 'radiator_events'

export interface NewEvent {
  type: string
  /** ms since the epoch */
  at: number
  /** the event's data, already JSON */
  data: string
}

export interface LoggedEvent extends NewEvent {
  id: number
}

type Queryable = Pick<pg.ClientBase, 'query'>

/** Creates the counter row if it is missing (idempotent; run at start-up). */
export async function initEventLog(db: Queryable): Promise<void> {
  await db.query(`INSERT INTO meta (key, value) VALUES ('event_id', '0') ON CONFLICT (key) DO NOTHING`)
}

/**
 * Appends events inside the caller's open transaction; call it as the last thing before COMMIT
 * (the counter row stays locked until then). Returns the ids given, in order.
 */
export async function appendEvents(tx: Queryable, evs: readonly NewEvent[]): Promise<number[]> {
  if (evs.length === 0) return []
  const r = await tx.query<{ last: string }>(
    `UPDATE meta SET value = (value::bigint + $1)::text WHERE key = 'event_id' RETURNING value AS last`,
    [evs.length]
  )
  if (r.rowCount !== 1) throw new Error('event log not initialized: the meta row event_id is missing')
  const last = Number(r.rows[0]!.last)
  const first = last - evs.length + 1
  const ids = evs.map((_, i) => first + i)
  // One INSERT for the batch: unnest of parallel arrays keeps it a single statement whatever the count.
  await tx.query(
    `INSERT INTO events (id, type, at, data)
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[])`,
    [ids, evs.map((e) => e.type), evs.map((e) => e.at), evs.map((e) => e.data)]
  )
  await tx.query('SELECT pg_notify($1, $2)', [EVENTS_CHANNEL, String(last)])
  return ids
}

/** Committed events with id > `after`, in id order, at most `limit`. */
export async function eventsAfter(db: Queryable, after: number, limit: number): Promise<LoggedEvent[]> {
  const r = await db.query<{ id: string; type: string; at: string; data: string }>(
    'SELECT id, type, at, data FROM events WHERE id > $1 ORDER BY id LIMIT $2',
    [after, limit]
  )
  return r.rows.map((row) => ({ id: Number(row.id), type: row.type, at: Number(row.at), data: row.data }))
}

/**
 * The events of the open writer transaction (PgWriter hooks): ops add them as they go, and they are
 * appended as the batch's last statements, so ids follow COMMIT order across the cluster. A rolled
 * back op takes its events with it.
 */
export class PendingEvents implements PgCommitHooks<LoggedEvent[], number> {
  /** The counter row is locked from its UPDATE to COMMIT: nothing else of the batch may run in between. */
  readonly last = true
  private pending: NewEvent[] = []
  private appended: LoggedEvent[] = []

  add(ev: NewEvent): void {
    this.pending.push(ev)
  }

  mark(): number {
    return this.pending.length
  }

  rollback(mark: number): void {
    this.pending.length = mark
    this.appended = []
  }

  async beforeCommit(tx: pg.ClientBase): Promise<void> {
    const evs = this.pending
    const ids = await appendEvents(tx, evs)
    this.appended = evs.map((e, i) => ({ ...e, id: ids[i]! }))
  }

  committed(): LoggedEvent[] {
    const made = this.appended
    this.appended = []
    this.pending = []
    return made
  }

  durable(): void {}
  lost(): void {}
}
