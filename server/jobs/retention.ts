/**
 * @module The one retention sweep: one job (hourly, first a few seconds after start) that deletes
 * what is past its retention from every table that has one. The capability that owns a table states
 * its retention once, when it registers the table here (from its config variable). Every delete
 * goes through the writer in batches of RETENTION_BATCH rows, so a beacon or a webhook never waits
 * behind one long transaction.
 */
import { getTableName, inArray, lt, type SQL } from 'drizzle-orm'
import type { SQLiteColumn, SQLiteTable } from 'drizzle-orm/sqlite-core'
import type { Db } from '../db/client.ts'
import { ROWID } from '../db/sqlite.ts'
import type { Writer } from '../db/writer.ts'
import type { Engine, PgEngine } from '../db/engine.ts'
import { HOUR_MS } from '../time.ts'
import type { Job } from './scheduler.ts'

/** Rows per delete: each is one short writer op. */
export const RETENTION_BATCH = 2000
export const RETENTION_EVERY_MS = HOUR_MS
/** The first pass waits for start-up to settle. */
export const RETENTION_FIRST_AFTER_MS = 5000

/** One step of a pass: deletes what it owns and says how many rows went. */
export type RetentionStep = (stopping?: AbortSignal) => Promise<number>

export class RetentionSweep {
  private steps: { name: string; run: RetentionStep }[] = []
  /** In a cluster: the same tables, by name, on PostgreSQL (the schema is derived: server/db/pg). */
  private pg: PgEngine | null = null

  constructor(
    private db: Db,
    private writer: Writer,
    readonly batch = RETENTION_BATCH
  ) {}

  /** The sweep on either engine (the server's: its job runs on the cluster's leader only). */
  static on(engine: Engine, batch = RETENTION_BATCH): RetentionSweep {
    if (engine.kind === 'sqlite') return new RetentionSweep(engine.store.db, engine.writer, batch)
    const sweep = new RetentionSweep(null as unknown as Db, null as unknown as Writer, batch)
    sweep.pg = engine
    return sweep
  }

  /** Deletes rows of `table` whose `at` is more than `keepMs` before `now()`. */
  byAge(table: SQLiteTable, at: SQLiteColumn, keepMs: number, now: () => number = Date.now): void {
    const name = getTableName(table)
    if (this.pg)
      this.step(name, (stopping) => this.drainPg(name, `"${at.name}" < $1`, () => [now() - keepMs], stopping))
    else this.step(name, (stopping) => this.drain(table, lt(at, now() - keepMs), stopping))
  }

  /**
   * drain() on PostgreSQL: its DELETE takes no LIMIT either; a batch is the ctids of a limited SELECT
   * (a row's physical address, stable within the statement). `where` is SQL over `params()`.
   */
  async drainPg(table: string, where: string, params: () => unknown[], stopping?: AbortSignal): Promise<number> {
    const pg = this.pg
    if (!pg) throw new Error('drainPg: this sweep is on SQLite')
    const sql = `DELETE FROM "${table}" WHERE ctid = ANY(ARRAY(SELECT ctid FROM "${table}" WHERE ${where} LIMIT ${this.batch}))`
    let total = 0
    while (!stopping?.aborted) {
      const args = params()
      const n = await pg.writer.write(async (tx) => (await tx.query(sql, args)).rowCount ?? 0)
      total += n
      if (n < this.batch) break
    }
    return total
  }

  /** Whether the sweep runs on PostgreSQL (a capability's own steps choose their statements by it). */
  get onPg(): boolean {
    return this.pg !== null
  }

  /** A step that deletes in its own way (the hub's event trim, the rollups' walk per site). */
  step(name: string, run: RetentionStep): void {
    this.steps.push({ name, run })
  }

  /** Deletes the rows of `table` matching `where`, a batch per writer op, until none is left. */
  async drain(table: SQLiteTable, where: SQL, stopping?: AbortSignal): Promise<number> {
    // SQLite's DELETE takes no LIMIT (unless compiled with it): a batch is the rowids of a limited
    // SELECT; every table has a rowid, those with a composite key too.
    const batch = this.db.select({ rowid: ROWID }).from(table).where(where).limit(this.batch)
    const stmt = this.db.delete(table).where(inArray(ROWID, batch)).prepare()
    let total = 0
    while (!stopping?.aborted) {
      const n = await this.writer.write(() => stmt.run().changes)
      total += n
      if (n < this.batch) break
    }
    return total
  }

  /** One pass, steps in the order they were added; rows deleted per step. */
  async run(stopping?: AbortSignal): Promise<Record<string, number>> {
    const deleted: Record<string, number> = {}
    for (const s of this.steps) {
      if (stopping?.aborted) break
      deleted[s.name] = (deleted[s.name] ?? 0) + (await s.run(stopping))
    }
    return deleted
  }

  job(): Job {
    return {
      name: 'retention',
      cluster: 'leader',
      every: RETENTION_EVERY_MS,
      firstAfterMs: RETENTION_FIRST_AFTER_MS,
      run: (stopping) => this.run(stopping),
    }
  }
}
