/**
 * @module Deletes what is past its retention, by itself and off the request path: raw hits and
 * samples after RAW_RETENTION_DAYS, rollups and custom metric points after ROLLUP_RETENTION_DAYS,
 * visitor salts after 48 h. Every delete goes through the writer in small batches, so a beacon
 * never waits behind one long transaction.
 */
import type { Sqlite } from '../db/client.ts'
import type { Writer } from '../db/writer.ts'
import { GRAN_MS, type Gran } from './rollups.ts'
import { DAY_MS, type VisitorIds } from './visitor-hash.ts'

export const RETENTION_BATCH = 2000

export interface RetentionOptions {
  rawDays: number
  rollupDays: number
  now: () => number
}

export interface RetentionResult {
  hits: number
  samples: number
  rollups: number
  customMetrics: number
  salts: number
}

export class Retention {
  private stmts

  constructor(
    sqlite: Sqlite,
    private writer: Writer,
    private visitors: VisitorIds,
    private opts: RetentionOptions
  ) {
    const batch = (table: string, where: string) =>
      sqlite.prepare(
        `DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE ${where} LIMIT ${RETENTION_BATCH})`
      )
    this.stmts = {
      hits: batch('site_hits', 'at < ?'),
      samples: batch('site_samples', 'at < ?'),
      customMetrics: batch('custom_metrics', 'at < ?'),
      // Per (site, gran): a range of the primary key, no extra index needed.
      rollups: batch('site_rollups', 'site = ? AND gran = ? AND period < ?'),
      // Walks the primary key site by site instead of scanning it (SELECT DISTINCT would).
      nextRollupSite: sqlite.prepare<[string], { site: string }>(
        'SELECT site FROM site_rollups WHERE site > ? ORDER BY site LIMIT 1'
      ),
    }
  }

  /** Deletes in batches until nothing is left to delete. */
  async runOnce(): Promise<RetentionResult> {
    const now = this.opts.now()
    const rawCutoff = now - this.opts.rawDays * DAY_MS
    const rollupCutoff = now - this.opts.rollupDays * DAY_MS
    const drain = async (run: () => number) => {
      let total = 0
      for (;;) {
        const n = await this.writer.write(run)
        total += n
        if (n < RETENTION_BATCH) return total
      }
    }
    const result: RetentionResult = { hits: 0, samples: 0, rollups: 0, customMetrics: 0, salts: 0 }
    result.hits = await drain(() => this.stmts.hits.run(rawCutoff).changes)
    result.samples = await drain(() => this.stmts.samples.run(rawCutoff).changes)
    result.customMetrics = await drain(() => this.stmts.customMetrics.run(rollupCutoff).changes)
    for (
      let site = this.stmts.nextRollupSite.get('')?.site;
      site !== undefined;
      site = this.stmts.nextRollupSite.get(site)?.site
    )
      // A period is dropped once it ended before the cutoff.
      for (const gran of Object.keys(GRAN_MS) as Gran[])
        result.rollups += await drain(() => this.stmts.rollups.run(site, gran, rollupCutoff - GRAN_MS[gran]).changes)
    result.salts = await this.visitors.rotate()
    return result
  }

  /** Runs `firstAfterMs` after start, then every `everyMs`; returns the stopper. */
  start(everyMs: number, onError: (e: unknown) => void, firstAfterMs = 5000): () => void {
    let timer: NodeJS.Timeout
    let stopped = false
    const tick = () => {
      this.runOnce()
        .catch((e) => stopped || onError(e))
        .finally(() => stopped || (timer = setTimeout(tick, everyMs)).unref())
    }
    ;(timer = setTimeout(tick, firstAfterMs)).unref()
    return () => {
      stopped = true
      clearTimeout(timer)
    }
  }
}
