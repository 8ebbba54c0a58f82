/**
 * @module What exact in-memory caches of database reads need, stated once (SQLite-only, like the rest of
 * server/db/): a temporary trigger that says which keys a write on this connection touched, SQLite's
 * `data_version` for writes by other connections, and no reading or filling inside a transaction
 * (uncommitted rows may yet roll back). Used by the CI tiles (ci/store.ts) and the rolled part of site
 * summaries (metrics/summary.ts).
 */
import type { Sqlite } from './client.ts'

/**
 * Calls `changed(key)` for every row of `table` a statement on this connection inserts, updates
 * (old and new key) or deletes, `key` being `column`'s value, or `changed(...values)` of every
 * column named when `column` is a list. A write rolled back only calls it too often, never too
 * seldom. `name` keeps each watcher's SQL function and triggers apart.
 */
export function watchRows(
  sqlite: Sqlite,
  name: string,
  table: string,
  column: string,
  changed: (key: string) => void
): void
export function watchRows(
  sqlite: Sqlite,
  name: string,
  table: string,
  columns: readonly string[],
  changed: (...key: unknown[]) => void
): void
export function watchRows(
  sqlite: Sqlite,
  name: string,
  table: string,
  column: string | readonly string[],
  changed: (...key: never[]) => void
): void {
  const columns = typeof column === 'string' ? [column] : column
  const width = columns.length
  const fn = `radiator_${name}_changed`
  // One call per statement row, old and new keys flattened: (a, b) or (oldA, oldB, newA, newB).
  const call = changed as (...key: unknown[]) => void
  sqlite.function(fn, { deterministic: false, varargs: true }, (...keys: unknown[]) => {
    if (width === 1) for (const k of keys) call(k)
    else for (let i = 0; i < keys.length; i += width) call(...keys.slice(i, i + width))
    return null
  })
  const of = (row: 'OLD' | 'NEW') => columns.map((c) => `${row}.${c}`).join(', ')
  sqlite.exec(`
    CREATE TEMP TRIGGER IF NOT EXISTS radiator_${name}_${table}_ins AFTER INSERT ON main.${table}
      BEGIN SELECT ${fn}(${of('NEW')}); END;
    CREATE TEMP TRIGGER IF NOT EXISTS radiator_${name}_${table}_upd AFTER UPDATE ON main.${table}
      BEGIN SELECT ${fn}(${of('OLD')}, ${of('NEW')}); END;
    CREATE TEMP TRIGGER IF NOT EXISTS radiator_${name}_${table}_del AFTER DELETE ON main.${table}
      BEGIN SELECT ${fn}(${of('OLD')}); END;`)
}

/** Whether a cache on this connection may be used now; `stale()` runs when another connection wrote. */
export class Freshness {
  private version: number

  constructor(
    private sqlite: Sqlite,
    private stale: () => void
  ) {
    this.version = this.dataVersion()
  }

  private dataVersion(): number {
    return this.sqlite.pragma('data_version', { simple: true }) as number
  }

  /** False inside a transaction; else true, after dropping everything another connection may have changed. */
  usable(): boolean {
    if (this.sqlite.inTransaction) return false
    const v = this.dataVersion()
    if (v !== this.version) {
      this.version = v
      this.stale()
    }
    return true
  }
}

/** One `make(sqlite)` per connection, shared by everyone reading through it. */
export function perConnection<T extends object>(make: (sqlite: Sqlite) => T): (sqlite: Sqlite) => T {
  const made = new WeakMap<Sqlite, T>()
  return (sqlite) => {
    let t = made.get(sqlite)
    if (!t) made.set(sqlite, (t = make(sqlite)))
    return t
  }
}
