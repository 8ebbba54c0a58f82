/**
 * @module `npm run reprocess`: rebuilds every build and tile from the raw bodies kept for
 * RAW_RETENTION_DAYS, with the current provider code — after a parser fix, history is corrected.
 * Signatures were verified when each delivery arrived and are not checked again. Builds whose raw
 * bodies have expired are kept as they are.
 */
import type { Sqlite } from '../db/client.ts'
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
  const rows = sqlite
    .prepare<[], { id: number; provider: string; headers: string; body: Buffer; received_at: number }>(
      `SELECT d.id, d.provider, r.headers, r.body, r.received_at FROM raw_bodies r
       JOIN deliveries d ON d.id = r.delivery_row_id ORDER BY d.id`
    )
    .all()
  const result: ReprocessResult = { deliveries: rows.length, applied: 0, ignored: 0, failed: 0 }
  const store = new BuildStore(sqlite)
  const affected = new Set<string>()
  sqlite.transaction(() => {
    // Only builds we can rebuild are reset; older ones (bodies expired) stay.
    for (const r of rows) {
      const b = sqlite
        .prepare<[number], { build_id: string | null }>('SELECT build_id FROM deliveries WHERE id = ?')
        .get(r.id)
      if (b?.build_id) affected.add(b.build_id)
    }
    for (const id of affected) {
      sqlite.prepare('DELETE FROM jobs WHERE build_id = ?').run(id)
      sqlite.prepare('DELETE FROM builds WHERE id = ?').run(id)
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
          receivedAt: r.received_at,
        }
        const out = provider.normalize(delivery, parseBody(r.body))
        if (out.kind !== 'build') {
          result.ignored++
          continue
        }
        const built = store.apply(buildUpdateSchema.parse(out.update), r.received_at)
        sqlite.prepare('UPDATE deliveries SET build_id = ? WHERE id = ?').run(built.buildId, r.id)
        result.applied++
      } catch {
        result.failed++
      }
    }
    // Tiles left without builds (a build moved to another tile under the new parser) are removed.
    sqlite.prepare('DELETE FROM pipelines WHERE id NOT IN (SELECT DISTINCT pipeline_id FROM builds)').run()
  })()
  return result
}
