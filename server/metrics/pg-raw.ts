/**
 * @module The beacon's write on PostgreSQL (issue 17): the same rows as raw.ts writes on SQLite, but
 * gathered over a writer transaction and inserted once per table as it ends (one multi-row INSERT
 * each, in `beforeCommit`), because each statement here is a round trip, where SQLite's is a call.
 * A repeated report (CLS, INP) needs the row it replaces, which may still be in the buffer: the
 * buffer is flushed before that lookup, so it always sees every earlier row of the transaction.
 *
 * Two things the rollups on PostgreSQL rely on (pg-rollups.ts says why):
 * - Before the transaction takes its first raw id, it has a transaction id (`pg_current_xact_id()`).
 * - A replacement reads the samples watermark `FOR SHARE`: the rollup job locks it `FOR UPDATE` for
 *   its whole batch, so whether the replaced row was already rolled up is decided against a
 *   watermark that cannot move before this transaction ends.
 */
import type pg from 'pg'
import type { PgCommitHooks } from '../db/pg/writer.ts'
import type { siteHits, siteSamples } from '../db/schema.ts'
import { rate, reportedAgain } from '../../contract/metrics.ts'
import type { RawBeacon } from './raw.ts'

type Hit = Omit<typeof siteHits.$inferInsert, 'id'>
type Sample = Omit<typeof siteSamples.$inferInsert, 'id'>

/** The rollup watermark of site_samples, as pg-rollups.ts stores it in `meta`. */
export const WM_SAMPLES = 'metrics_rolled_samples'
export const WM_HITS = 'metrics_rolled_hits'

// Prepared by name on each connection (node-postgres keeps named statements per connection).
const INSERT_HITS = {
  name: 'radiator_metrics_hits',
  text: `INSERT INTO site_hits (site, visitor, kind, path, device, at)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[])`,
}
const INSERT_SAMPLES = {
  name: 'radiator_metrics_samples',
  text: `INSERT INTO site_samples (site, path, metric, value, rating, nav, device, vid, prev, at)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::text[], $6::text[], $7::text[],
      $8::text[], $9::float8[], $10::bigint[])`,
}
const FIND_REPLACED = {
  name: 'radiator_metrics_find_replaced',
  text: `SELECT id, path, device, value, prev, at FROM site_samples
    WHERE vid = $1 AND site = $2 AND metric = $3 AND metric IN ('CLS', 'INP')`,
}
const DELETE_SAMPLE = { name: 'radiator_metrics_delete_sample', text: 'DELETE FROM site_samples WHERE id = $1' }
const ROLLED_SAMPLES = {
  name: 'radiator_metrics_rolled_samples',
  text: `SELECT value FROM meta WHERE key = '${WM_SAMPLES}' FOR SHARE`,
}

/** A watermark row made before any rollup ran: locked by its INSERT, so the rollup job waits for it. */
export const ENSURE_WATERMARK = `INSERT INTO meta (key, value) VALUES ($1, '0') ON CONFLICT (key) DO NOTHING`

export class PgRawWrites implements PgCommitHooks<void, void> {
  private hits: Hit[] = []
  private samples: Sample[] = []
  /** Whether this transaction has its transaction id yet (see the module comment). */
  private xid = false
  stats = { hitInserts: 0, sampleInserts: 0 }

  /** Writes one beacon's events; call inside a PgWriter op, with its transaction. */
  async write(tx: pg.ClientBase, b: RawBeacon): Promise<void> {
    for (const e of b.events) {
      if (e.type !== 'vital') {
        this.hits.push({ site: b.site, visitor: b.visitor, kind: e.type, path: e.path, device: b.device, at: b.at })
        continue
      }
      const sample: Sample = {
        site: b.site,
        path: e.path,
        metric: e.name,
        value: e.value,
        rating: rate(e.name, e.value),
        nav: e.nav ?? null,
        device: b.device,
        vid: e.id,
        prev: null,
        at: b.at,
      }
      if (reportedAgain(e.name)) {
        await this.flush(tx)
        const found = await tx.query(FIND_REPLACED, [e.id, b.site, e.name])
        const old = found.rows[0] as
          | { id: string; path: string; device: Sample['device']; value: number; prev: number | null; at: string }
          | undefined
        if (old) {
          // As raw.ts: the new row records what the rollups counted for the old one and keeps its
          // first report's time, path and device.
          const counted = Number(old.id) <= (await this.rolledThrough(tx)) ? old.value : old.prev
          Object.assign(sample, { path: old.path, device: old.device, prev: counted, at: Number(old.at) })
          await tx.query(DELETE_SAMPLE, [old.id])
        }
      }
      this.samples.push(sample)
    }
  }

  /** The samples watermark, locked FOR SHARE until this transaction ends. */
  private async rolledThrough(tx: pg.ClientBase): Promise<number> {
    let r = await tx.query(ROLLED_SAMPLES)
    if (r.rowCount === 0) {
      // No rollup ever ran: make the row (locked by the insert), or share the one another made meanwhile.
      await tx.query(ENSURE_WATERMARK, [WM_SAMPLES])
      r = await tx.query(ROLLED_SAMPLES)
    }
    return Number((r.rows[0] as { value: string } | undefined)?.value ?? 0)
  }

  /** Inserts what the transaction gathered so far. */
  async flush(tx: pg.ClientBase): Promise<void> {
    if (this.hits.length === 0 && this.samples.length === 0) return
    if (!this.xid) {
      await tx.query('SELECT pg_current_xact_id()')
      this.xid = true
    }
    const hits = this.hits
    const samples = this.samples
    this.hits = []
    this.samples = []
    if (hits.length) {
      this.stats.hitInserts++
      await tx.query(INSERT_HITS, [
        hits.map((h) => h.site),
        hits.map((h) => h.visitor),
        hits.map((h) => h.kind),
        hits.map((h) => h.path),
        hits.map((h) => h.device),
        hits.map((h) => h.at),
      ])
    }
    if (samples.length) {
      this.stats.sampleInserts++
      await tx.query(INSERT_SAMPLES, [
        samples.map((s) => s.site),
        samples.map((s) => s.path),
        samples.map((s) => s.metric),
        samples.map((s) => s.value),
        samples.map((s) => s.rating),
        samples.map((s) => s.nav ?? null),
        samples.map((s) => s.device),
        samples.map((s) => s.vid),
        samples.map((s) => s.prev ?? null),
        samples.map((s) => s.at),
      ])
    }
  }

  // The writer's hooks: a transaction starts empty, its rows go in as it ends, a rollback drops them.
  mark(): void {
    this.reset()
  }
  rollback(): void {
    this.reset()
  }
  committed(): void {
    this.xid = false
  }
  durable(): void {}
  lost(): void {}
  beforeCommit(tx: pg.ClientBase): Promise<void> {
    return this.flush(tx)
  }

  private reset(): void {
    this.hits = []
    this.samples = []
    this.xid = false
  }
}
