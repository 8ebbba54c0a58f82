/**
 * @module `npm run reprocess`: rebuilds every build and tile from the raw bodies kept for
 * RAW_RETENTION_DAYS, with the current provider code — after a parser fix, history is corrected.
 * Signatures were verified when each delivery arrived and are not checked again. Builds whose raw
 * bodies have expired are kept as they are.
 */
import { asc, eq, notInArray } from 'drizzle-orm'
import { dbOf, type Sqlite } from '../db/client.ts'
import { builds, deliveries, jobs, pipelines, rawBodies } from '../db/schema.ts'
import { buildUpdateSchema } from './model.ts'
import { providerOf } from './registry.ts'
import { BuildStore } from './store.ts'
import { parseBody } from './payload.ts'

export interface ReprocessResult {
  deliveries: number
  applied: number
  ignored: number
  failed: number
}

export function reprocess(sqlite: Sqlite): ReprocessResult {
  const db = dbOf(sqlite)
  const result: ReprocessResult = { deliveries: 0, applied: 0, ignored: 0, failed: 0 }
  const store = new BuildStore(sqlite)
  sqlite.transaction(() => {
    const rows = db
      .select({
        id: deliveries.id,
        provider: deliveries.provider,
        buildId: deliveries.buildId,
        headers: rawBodies.headers,
        body: rawBodies.body,
        receivedAt: rawBodies.receivedAt,
      })
      .from(rawBodies)
      .innerJoin(deliveries, eq(deliveries.id, rawBodies.deliveryRowId))
      .orderBy(asc(deliveries.id))
      .all()
    result.deliveries = rows.length
    // Only builds we can rebuild are reset; older ones (bodies expired) stay.
    for (const id of new Set(rows.map((r) => r.buildId).filter((id) => id !== null))) {
      db.delete(jobs).where(eq(jobs.buildId, id)).run()
      db.delete(builds).where(eq(builds.id, id)).run()
    }
    for (const r of rows) {
      const provider = providerOf(r.provider)
      if (!provider) {
        result.failed++
        continue
      }
      try {
        const delivery = {
          headers: new Headers(JSON.parse(r.headers)),
          raw: r.body,
          url: new URL(`http://reprocess/hooks/${r.provider}`),
          receivedAt: r.receivedAt,
        }
        const out = provider.normalize(delivery, parseBody(r.body))
        if (out.kind !== 'build') {
          result.ignored++
          continue
        }
        const built = store.apply(buildUpdateSchema.parse(out.update), r.receivedAt)
        db.update(deliveries).set({ buildId: built.buildId }).where(eq(deliveries.id, r.id)).run()
        result.applied++
      } catch {
        result.failed++
      }
    }
    // Tiles left without builds (a build moved to another tile under the new parser) are removed.
    db.delete(pipelines)
      .where(notInArray(pipelines.id, db.selectDistinct({ id: builds.pipelineId }).from(builds)))
      .run()
  })()
  return result
}
