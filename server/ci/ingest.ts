/**
 * @module What happens to a verified, normalized delivery inside the writer's transaction: dedup by
 * delivery id, merge into the build, log the delivery, keep the raw body, persist the live events.
 * All or nothing: the 2xx the provider gets means every one of these is committed.
 */

import { dbOf, type Db, type Sqlite } from '../db/client.ts'
import { deliveries, deliveryKeys, rawBodies } from '../db/schema.ts'
import { columnKeys, placeholders } from '../db/sqlite.ts'
import type { Hub } from '../live/hub.ts'
import type { Delivery } from './provider.ts'
import type { BuildUpdate } from './model.ts'
import type { Transition } from '../../contract/builds.ts'
import type { DeliveryOutcome } from '../../contract/vocabularies.ts'
import { BuildStore } from './store.ts'

export type Outcome = DeliveryOutcome

export type DeliveryInfo = {
  provider: string
  event: string | null
  deliveryId: string | null
  receivedAt: number
  size: number
}

/** Header names never written to disk: credentials and signatures. */
const SECRET_HEADER = /auth|sign|token|secret|cookie|digest|key/i

export function storableHeaders(h: Headers): Record<string, string> {
  const out: Record<string, string> = {}
  h.forEach((v, k) => {
    if (!SECRET_HEADER.test(k)) out[k] = v
  })
  return out
}

/**
 * The delivery log's statements, prepared once: drizzle adds about 1 µs to each of these inserts
 * against the same SQL run directly (`npx tsx bench/ci-sql.ts`), on a delivery that costs ~1 ms.
 */
export function deliveryStatements(db: Db) {
  return {
    log: db
      .insert(deliveries)
      .values(
        placeholders(
          deliveries,
          columnKeys(deliveries).filter((k) => k !== 'id')
        )
      )
      .prepare(),
    /** Records a delivery id; no change when it was already there (a duplicate): one statement, not a read then a write. */
    remember: db
      .insert(deliveryKeys)
      .values(placeholders(deliveryKeys, columnKeys(deliveryKeys)))
      .onConflictDoNothing({ target: [deliveryKeys.provider, deliveryKeys.deliveryId] })
      .prepare(),
    raw: db
      .insert(rawBodies)
      .values(placeholders(rawBodies, columnKeys(rawBodies)))
      .prepare(),
  }
}

export class Ingest {
  readonly builds: BuildStore
  private s

  constructor(
    sqlite: Sqlite,
    private hub: Hub
  ) {
    this.builds = new BuildStore(sqlite)
    this.s = deliveryStatements(dbOf(sqlite))
  }

  log(info: DeliveryInfo, outcome: Outcome, reason: string | null, buildId: string | null = null): number {
    const r = this.s.log.run({ ...info, outcome, reason, buildId })
    return Number(r.lastInsertRowid)
  }

  /** Applies a build update exactly once per delivery id. Runs inside a writer transaction. */
  applyBuild(
    sqlite: Sqlite,
    info: DeliveryInfo & { deliveryId: string },
    update: BuildUpdate,
    delivery: Delivery
  ): { outcome: Outcome; buildId: string | null; status: string | null; transition: Transition | null } {
    if (this.s.remember.run(info).changes === 0) {
      this.log(info, 'duplicate', 'delivery id already applied')
      return { outcome: 'duplicate', buildId: null, status: null, transition: null }
    }
    const r = this.builds.apply(update, info.receivedAt)
    const keep = (outcome: Outcome, reason: string | null) => {
      const row = this.log(info, outcome, reason, r.buildId)
      this.s.raw.run({
        deliveryRowId: row,
        headers: JSON.stringify(storableHeaders(delivery.headers)),
        body: delivery.raw,
        receivedAt: info.receivedAt,
      })
    }
    if (r.waiting) {
      // Nothing to show yet: the job attaches (and is announced) when its build arrives.
      keep('stored', 'job kept until its build arrives')
      return { outcome: 'stored', buildId: r.buildId, status: null, transition: null }
    }
    const outcome: Outcome = r.superseded ? 'superseded' : 'stored'
    const reason = r.superseded
      ? `attempt ${update.attempt} is older than the stored attempt`
      : r.changed
        ? null
        : 'no change'
    keep(outcome, reason)
    // One message per change: a build reaching a final state is announced by build.finished alone
    // (it carries the tile too); every other change by build.updated. Two frames per finish cost
    // screens twice the bytes and the server twice the writes (bench/fanout.ts: ~2x at 1,000+).
    if (r.transition)
      this.hub.persist(sqlite, 'build.finished', { build: r.build, transition: r.transition, pipeline: r.tile })
    else if (r.changed) this.hub.persist(sqlite, 'build.updated', { build: r.build, pipeline: r.tile })
    return { outcome, buildId: r.build.id, status: r.build.status, transition: r.transition }
  }
}
