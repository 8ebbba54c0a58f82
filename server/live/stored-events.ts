/**
 * @module The persisted part of the stream (the `events` table): what a client resuming from before
 * the in-memory ring is replayed from, and what retention trims. Queries are drizzle's prepared ones:
 * a 20,000-row insert and 500-row pages measured the same as hand-written statements (insert
 * 23.1 vs 22.9 µs a row, page 3.46 vs 3.45 ms, medians of 9 on a loaded 2-core machine).
 */
import { and, asc, gt, lt, lte, max, sql } from 'drizzle-orm'
import type { Db } from '../db/client.ts'
import type { Meta } from '../db/meta.ts'
import { events } from '../db/schema.ts'
import { Frame } from './frame.ts'

export class StoredEvents {
  private insertStmt
  private pageStmt
  /** Events with ids up to this were deleted by retention: a resume from before it is a reset. */
  trimmedThrough: number

  constructor(
    private db: Db,
    private meta: Meta
  ) {
    this.insertStmt = db
      .insert(events)
      .values({
        id: sql.placeholder('id'),
        type: sql.placeholder('type'),
        at: sql.placeholder('at'),
        data: sql.placeholder('data'),
      })
      .prepare()
    this.pageStmt = db
      .select()
      .from(events)
      .where(and(gt(events.id, sql.placeholder('after')), lte(events.id, sql.placeholder('through'))))
      .orderBy(asc(events.id))
      .limit(sql.placeholder('limit'))
      .prepare()
    this.trimmedThrough = meta.getNumber('events_trimmed_through')
  }

  /** The newest persisted event's id, 0 when there is none. */
  maxId(): number {
    return (
      this.db
        .select({ id: max(events.id) })
        .from(events)
        .get()?.id ?? 0
    )
  }

  /** Stores an event; inside the writer op that made it, so it commits or rolls back with it. */
  insert(id: number, type: string, atMs: number, dataJson: string): void {
    this.insertStmt.run({ id, type, at: atMs, data: dataJson })
  }

  /** Up to `limit` events with `after` < id ≤ `through`, in id order. */
  page(after: number, through: number, limit: number): Frame[] {
    return this.pageStmt.all({ after, through, limit }).map((r) => storedFrame(r.id, r.type, r.at, r.data))
  }

  /** The newest id among events older than `cutoffMs` (0 when none): retention deletes through it. */
  newestBefore(cutoffMs: number): number {
    return (
      this.db
        .select({ id: max(events.id) })
        .from(events)
        .where(lt(events.at, cutoffMs))
        .get()?.id ?? 0
    )
  }

  /**
   * Deletes the oldest events, at most `limit` and none above `through`, and records how far;
   * must run inside a writer op. Returns how many went and the newest id deleted (0 when none).
   */
  trimThrough(through: number, limit: number): { n: number; through: number } {
    const oldest = this.db
      .select({ id: events.id })
      .from(events)
      .where(lte(events.id, through))
      .orderBy(asc(events.id))
      .limit(limit)
      .all()
    const last = oldest.at(-1)?.id
    if (last === undefined) return { n: 0, through: 0 }
    const n = this.db.delete(events).where(lte(events.id, last)).run().changes
    this.meta.set('events_trimmed_through', last)
    return { n, through: last }
  }
}

/** A persisted event as read back: its data is already JSON, so it is spliced in, not re-encoded. */
export function storedFrame(id: number, type: string, atMs: number, data: string): Frame {
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
