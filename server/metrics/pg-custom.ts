/**
 * @module Custom metrics on PostgreSQL (issue 17): the model of custom.ts (a time series; the latest
 * point per name in memory for the snapshot and GET /api/metrics; a `metric` event after COMMIT). A
 * point pushed to one instance must show in every instance's snapshot, so each instance announces
 * the points it stored on the bus and the others take them into their latest-per-name map. An
 * announcement lost (at most once) leaves another instance's latest value behind until the next
 * point of that name; the series (read from the table) is always whole.
 */
import type pg from 'pg'
import type { Bus } from '../cluster/bus.ts'
import type { PgWriter } from '../db/pg/writer.ts'
import type { Hub } from '../live/hub.ts'
import type { CustomMetricInput, CustomMetricPoint } from '../../contract/metrics.ts'
import { MAX_POINTS, type Row, rowsOf, toPoint, withThresholds } from './custom.ts'

const TOPIC = 'metric-latest'
const INSERT = `INSERT INTO custom_metrics (name, value, unit, tags, at)
  SELECT * FROM unnest($1::text[], $2::float8[], $3::text[], $4::text[], $5::bigint[])`
const LATEST = `SELECT DISTINCT ON (name) name, value, unit, tags, at::float8 AS at FROM custom_metrics
  ORDER BY name, id DESC`
const SERIES = {
  name: 'radiator_custom_series',
  text: `SELECT name, value, unit, tags, at::float8 AS at FROM custom_metrics WHERE name = $1 AND at >= $2
    ORDER BY at DESC, id DESC LIMIT ${MAX_POINTS}`,
}

export class PgCustomMetrics {
  private latest = new Map<string, CustomMetricPoint>()

  constructor(
    private pool: pg.Pool,
    private writer: PgWriter,
    private hub: Hub,
    private bus: Bus,
    private now: () => number
  ) {
    bus.listen(TOPIC, (data, from) => {
      if (from === bus.instance) return
      for (const p of data as CustomMetricPoint[]) this.keep(p)
    })
  }

  /** Loads the latest point of every name (at start); points pushed meanwhile are kept if newer. */
  async load(): Promise<void> {
    for (const r of (await this.pool.query(LATEST)).rows as Row[]) this.keep(toPoint(r))
  }

  private keep(p: CustomMetricPoint): void {
    const had = this.latest.get(p.name)
    if (!had || had.at <= p.at) this.latest.set(p.name, p)
  }

  async push(items: CustomMetricInput[]): Promise<CustomMetricPoint[]> {
    const rows = rowsOf(items, this.now())
    await this.writer.write((tx) =>
      tx.query(INSERT, [
        rows.map((r) => r.name),
        rows.map((r) => r.value),
        rows.map((r) => r.unit),
        rows.map((r) => r.tags),
        rows.map((r) => r.at),
      ])
    )
    const points = rows.map((r, i) => withThresholds(toPoint(r), items[i]!))
    for (const p of points) {
      this.latest.set(p.name, p)
      this.hub.publish('metric', p, `metric:${p.name}`)
    }
    this.bus.announce(TOPIC, points)
    return points
  }

  latestByName(): Record<string, CustomMetricPoint> {
    return Object.fromEntries([...this.latest.entries()].sort(([a], [b]) => a.localeCompare(b)))
  }

  async series(name: string, since: number): Promise<CustomMetricPoint[]> {
    const rows = (await this.pool.query(SERIES, [name, since])).rows as Row[]
    return rows.reverse().map(toPoint)
  }
}
