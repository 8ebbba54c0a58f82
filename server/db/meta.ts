/**
 * @module The `meta` table (schema.ts): small named values that must survive restarts. One prepared
 * pair per connection; a `set` inside a writer op (writer.ts) commits or rolls back with that op.
 */
import { eq, sql } from 'drizzle-orm'
import { dbOf, type Sqlite } from './client.ts'
import { meta } from './schema.ts'

/** Every key the table holds; each value is a number stored as text. */
export type MetaKey =
  /** The hub's event id high-water mark: ids up to it may have been handed out (live/sequence.ts). */
  | 'event_id_reserved'
  /** Persisted events with ids up to it were deleted by retention (live/stored-events.ts). */
  | 'events_trimmed_through'
  /** Rollup watermarks: site_hits / site_samples ids folded into site_rollups (metrics/rollups.ts). */
  | 'metrics_rolled_hits'
  | 'metrics_rolled_samples'

export interface Meta {
  /** The stored text, or undefined when the key was never set. */
  get(key: MetaKey): string | undefined
  /** The stored number, 0 when the key was never set. */
  getNumber(key: MetaKey): number
  /** Inserts or replaces. */
  set(key: MetaKey, value: string | number): void
}

/** Prepares on `sqlite` (a Store's connection, or one opened on a backup copy); call once per owner. */
export function metaOf(sqlite: Sqlite): Meta {
  const db = dbOf(sqlite)
  const select = db
    .select({ value: meta.value })
    .from(meta)
    .where(eq(meta.key, sql.placeholder('key')))
    .prepare()
  // Prepared on first use: a read-only connection (a backup being inspected) only reads.
  let upsert: { run(p: { key: string; value: string }): unknown } | undefined
  const get = (key: MetaKey) => select.get({ key })?.value
  return {
    get,
    getNumber: (key) => Number(get(key) ?? 0),
    set(key, value) {
      upsert ??= db
        .insert(meta)
        .values({ key: sql.placeholder('key'), value: sql.placeholder('value') })
        .onConflictDoUpdate({ target: meta.key, set: { value: sql`excluded.value` } })
        .prepare()
      upsert.run({ key, value: String(value) })
    },
  }
}
