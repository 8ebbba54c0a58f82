/**
 * @module The beacon's one write: raw hits and vitals samples, inside a writer op, through the
 * hand-written statements of db/metrics-statements.ts (the hot path: drizzle's prepared insert
 * measured 1.6-1.8× their CPU per row, its builder 15-16×; `npx tsx bench/metrics-sql.ts collect`).
 */
import type { Sqlite } from '../db/client.ts'
import { beaconStatements } from '../db/metrics-statements.ts'
import { rate, reportedAgain, type CollectEvent, type Device } from '../../contract/metrics.ts'

export interface RawBeacon {
  site: string
  visitor: string
  device: Device
  events: CollectEvent[]
  at: number
}

export class RawWrites {
  private stmts: ReturnType<typeof beaconStatements>

  constructor(
    sqlite: Sqlite,
    /** How far the rollups have read samples; read inside the transaction when a sample is replaced. */
    private rolledThrough: () => number
  ) {
    this.stmts = beaconStatements(sqlite)
  }

  /** Writes one beacon's events; call inside `writer.write`. */
  write(b: RawBeacon): void {
    const s = this.stmts
    for (const e of b.events) {
      if (e.type !== 'vital') {
        s.hit.run(b.site, b.visitor, e.type, e.path, b.device, b.at)
        continue
      }
      const old = reportedAgain(e.name) ? s.findReplaced.get(e.id, b.site, e.name) : undefined
      if (!old) {
        s.sample.run(b.site, e.path, e.name, e.value, rate(e.name, e.value), e.nav ?? null, b.device, e.id, null, b.at)
        continue
      }
      // A later report of the same metric instance replaces it. The new row records what the
      // rollups counted for it (the old value once rolled, else what the old row carried) and
      // keeps the first report's time, path and device, so the rollup job moves it within the
      // same rollup rows.
      const counted = old.id <= this.rolledThrough() ? old.value : old.prev
      s.sample.run(
        b.site,
        old.path,
        e.name,
        e.value,
        rate(e.name, e.value),
        e.nav ?? null,
        old.device,
        e.id,
        counted,
        old.at
      )
      s.deleteSample.run(old.id)
    }
  }
}
