/**
 * @module The whole database schema. Migrations in /migrations are generated from this file with
 * `npm run db:generate`; times are integer ms since the epoch (UTC) unless a name says otherwise.
 */
import { sqliteTable, text, integer, index } from 'drizzle-orm/sqlite-core'

/** Small named values that must survive restarts (the event id high-water mark, trim marks). */
export const meta = sqliteTable('meta', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
})

/**
 * Live events worth replaying after the fact (build events). Ids are assigned by the hub from a
 * persisted high-water mark, not by SQLite, so transient events share the same increasing sequence.
 */
export const events = sqliteTable(
  'events',
  {
    id: integer('id').primaryKey(),
    type: text('type').notNull(),
    at: integer('at').notNull(),
    data: text('data').notNull(),
  },
  (t) => [index('events_at_idx').on(t.at)]
)
