/**
 * @module Pieces of SQL the query builder's callers need that are written for SQLite: a second
 * dialect (issue 17) starts its review here, with BUILD_RUNNING in schema.ts and the pragmas in
 * client.ts. Also the placeholder maps that let one prepared statement take a whole row.
 */
import { getTableColumns, type Placeholder, type SQL, sql, type Table } from 'drizzle-orm'

/** Insertion order: the tie-breaker between rows created in the same millisecond. SQLite-only. */
export const ROWID = sql`rowid`

/** `{ key: placeholder('key') }` for each key: a prepared insert whose values are one row object. */
export function placeholders<T extends Table, K extends keyof T['$inferInsert'] & string>(
  _table: T,
  keys: readonly K[]
): Record<K, Placeholder<K>> {
  return Object.fromEntries(keys.map((k) => [k, sql.placeholder(k)])) as Record<K, Placeholder<K>>
}

/** The same as SQL values, for an update's `set`: a prepared update that takes one row object. */
export function placeholderSet<T extends Table, K extends keyof T['$inferInsert'] & string>(
  _table: T,
  keys: readonly K[]
): Record<K, SQL> {
  return Object.fromEntries(keys.map((k) => [k, sql`${sql.placeholder(k)}`])) as Record<K, SQL>
}

/** `{ key: excluded.<column> }` for the given keys: the `set` of an upsert that takes the new row's values. */
export function excludedSet<T extends Table, K extends keyof T['$inferInsert'] & string>(
  table: T,
  keys: readonly K[]
): Record<K, SQL> {
  const columns = getTableColumns(table) as Record<string, { name: string }>
  return Object.fromEntries(keys.map((k) => [k, sql.raw(`excluded."${columns[k]!.name}"`)])) as Record<K, SQL>
}

/** Every key of a table's rows, in schema order. */
export function columnKeys<T extends Table>(table: T): (keyof T['$inferSelect'] & string)[] {
  return Object.keys(getTableColumns(table)) as (keyof T['$inferSelect'] & string)[]
}

/**
 * `LIMIT n` written into the SQL, where drizzle binds a number as a parameter. A bound LIMIT measured
 * 3× slower on a one-row index lookup (a tile's newest build: 34 µs against 10.5 µs) and 9× on the
 * partial-index lookup of its running build. The cast: drizzle's dialect writes any object passed to
 * `.limit()` as SQL (`buildLimit`), which this is.
 */
export function literalLimit(n: number): Placeholder {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`LIMIT must be a non-negative integer, not ${n}`)
  return sql.raw(String(n)) as unknown as Placeholder
}
