/**
 * @module Custom metrics teams push to the wall (deploys today, error rate, queue depth): stored as a
 * time series, the latest value per name kept in memory (loaded at start) for the snapshot and
 * GET /api/metrics, and pushed as a `metric` event after COMMIT.
 */
import { and, desc, eq, getTableColumns, gte, inArray, max, sql } from 'drizzle-orm'
import type { Db } from '../db/client.ts'
import { customMetrics } from '../db/schema.ts'
import type { Writer } from '../db/writer.ts'
import type { Hub } from '../live/hub.ts'
import type { CustomMetricInput, CustomMetricPoint } from '../../contract/metrics.ts'

/** A series answer is bounded; the newest points are kept. */
export const MAX_POINTS = 10_000

/** A stored point: every column but the id. */
const { id: _id, ...pointColumns } = getTableColumns(customMetrics)
export type Row = Omit<typeof customMetrics.$inferSelect, 'id'>

export const toPoint = (r: Row): CustomMetricPoint => ({
  name: r.name,
  value: r.value,
  unit: r.unit,
  tags: r.tags ? (JSON.parse(r.tags) as Record<string, string>) : null,
  at: new Date(r.at).toISOString(),
})

/** Thresholds travel with the latest point only: the wall colours the value now, not the history. */
/** The rows pushed points are stored as (both engines): tags as JSON, none as null. */
export function rowsOf(items: CustomMetricInput[], at: number): Row[] {
  return items.map((m) => ({
    name: m.name,
    value: m.value,
    unit: m.unit ?? null,
    tags: m.tags && Object.keys(m.tags).length ? JSON.stringify(m.tags) : null,
    at,
  }))
}

export function withThresholds(p: CustomMetricPoint, m: CustomMetricInput): CustomMetricPoint {
  if (m.warn !== undefined) p.warn = m.warn
  if (m.crit !== undefined) p.crit = m.crit
  return p
}

export class CustomMetrics {
  private latest = new Map<string, CustomMetricPoint>()
  private stmts

  constructor(
    private db: Db,
    private writer: Writer,
    private hub: Hub,
    private now: () => number
  ) {
    this.stmts = {
      series: db
        .select(pointColumns)
        .from(customMetrics)
        .where(and(eq(customMetrics.name, sql.placeholder('name')), gte(customMetrics.at, sql.placeholder('since'))))
        .orderBy(desc(customMetrics.at), desc(customMetrics.id))
        .limit(MAX_POINTS)
        .prepare(),
    }
    const newest = db
      .select({ id: max(customMetrics.id) })
      .from(customMetrics)
      .groupBy(customMetrics.name)
    const rows = db.select(pointColumns).from(customMetrics).where(inArray(customMetrics.id, newest)).all()
    for (const r of rows) this.latest.set(r.name, toPoint(r))
  }

  async push(items: CustomMetricInput[]): Promise<CustomMetricPoint[]> {
    const rows = rowsOf(items, this.now())
    await this.writer.write(() => this.db.insert(customMetrics).values(rows).run())
    const points = rows.map((r, i) => withThresholds(toPoint(r), items[i]!))
    for (const p of points) {
      this.latest.set(p.name, p)
      this.hub.publish('metric', p, `metric:${p.name}`)
    }
    return points
  }

  /** Latest point per name, by name. */
  latestByName(): Record<string, CustomMetricPoint> {
    return Object.fromEntries([...this.latest.entries()].sort(([a], [b]) => a.localeCompare(b)))
  }

  /** Points of one name since `since` (ms), oldest first. */
  series(name: string, since: number): CustomMetricPoint[] {
    return this.stmts.series.all({ name, since }).reverse().map(toPoint)
  }
}
