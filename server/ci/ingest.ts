/**
 * @module What happens to a verified, normalized delivery inside the writer's transaction: dedup by
 * delivery id, merge into the build, log the delivery, keep the raw body, persist the live events.
 * All or nothing: the 2xx the provider gets means every one of these is committed.
 */

import { dbOf, type Db, type Sqlite } from '../db/client.ts'
import { deliveries, deliveryKeys, rawBodies } from '../db/schema.ts'
import { columnKeys, placeholders } from '../db/sqlite.ts'
import type { Hub } from '../live/hub.ts'
import type { Writer } from '../db/writer.ts'
import type { Delivery } from './provider.ts'
import type { BuildUpdate } from './model.ts'
import type { Transition } from '../../contract/builds.ts'
import type { DeliveryOutcome } from '../../contract/vocabularies.ts'
import { done, runSync, type Step } from '../db/steps.ts'
import type { EventData, EventType } from '../../contract/live.ts'
import { type BuildLogic, BuildStore } from './store.ts'

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

type LogRow = Omit<typeof deliveries.$inferInsert, 'id'>
type KeyRow = typeof deliveryKeys.$inferInsert
type RawRow = typeof rawBodies.$inferInsert

/** The delivery log's statements, for one engine (see CiSteps in store.ts). */
export interface DeliverySteps {
  /** Appends to the delivery log; returns the row's id. */
  log(row: LogRow): Step<number>
  /** Records a delivery id; false when it was already there (a duplicate). */
  remember(key: KeyRow): Step<boolean>
  raw(row: RawRow): Step<void>
}

export function sqliteDeliverySteps(st: ReturnType<typeof deliveryStatements>): DeliverySteps {
  return {
    log: (row) => done(Number(st.log.run(row).lastInsertRowid)),
    remember: (key) => done(st.remember.run(key).changes > 0),
    raw: (row) => done(void st.raw.run(row)),
  }
}

/** Where a delivery's live events go, inside its transaction: the hub on SQLite, the event log on PostgreSQL. */
export type PersistEvent = <T extends EventType>(type: T, data: EventData<T>) => void

export type BuildOutcome = {
  outcome: Outcome
  buildId: string | null
  status: string | null
  transition: Transition | null
}

/** What a delivery does to the store, for either engine: each statement is a step (server/db/steps.ts). */
export class DeliveryLogic {
  constructor(
    private s: DeliverySteps,
    private builds: BuildLogic
  ) {}

  *log(info: DeliveryInfo, outcome: Outcome, reason: string | null, buildId: string | null = null): Step<number> {
    return yield* this.s.log({ ...info, outcome, reason, buildId })
  }

  /** Applies a build update exactly once per delivery id. Runs inside a writer transaction. */
  *applyBuild(
    info: DeliveryInfo & { deliveryId: string },
    update: BuildUpdate,
    delivery: Delivery,
    persist: PersistEvent
  ): Step<BuildOutcome> {
    if (
      !(yield* this.s.remember({ provider: info.provider, deliveryId: info.deliveryId, receivedAt: info.receivedAt }))
    ) {
      yield* this.log(info, 'duplicate', 'delivery id already applied')
      return { outcome: 'duplicate', buildId: null, status: null, transition: null }
    }
    const r = yield* this.builds.apply(update, info.receivedAt)
    const s = this.s
    const log = this.log.bind(this)
    function* keep(outcome: Outcome, reason: string | null): Step<void> {
      const row = yield* log(info, outcome, reason, r.buildId)
      yield* s.raw({
        deliveryRowId: row,
        headers: JSON.stringify(storableHeaders(delivery.headers)),
        body: delivery.raw,
        receivedAt: info.receivedAt,
      })
    }
    if (r.waiting) {
      // Nothing to show yet: the job attaches (and is announced) when its build arrives.
      yield* keep('stored', 'job kept until its build arrives')
      return { outcome: 'stored', buildId: r.buildId, status: null, transition: null }
    }
    const outcome: Outcome = r.superseded ? 'superseded' : 'stored'
    const reason = r.superseded
      ? `attempt ${update.attempt} is older than the stored attempt`
      : r.changed
        ? null
        : 'no change'
    yield* keep(outcome, reason)
    // One message per change: a build reaching a final state is announced by build.finished alone
    // (it carries the tile too); every other change by build.updated. Two frames per finish cost
    // screens twice the bytes and the server twice the writes (bench/fanout.ts: ~2x at 1,000+).
    if (r.transition) persist('build.finished', { build: r.build, transition: r.transition, pipeline: r.tile })
    else if (r.changed) persist('build.updated', { build: r.build, pipeline: r.tile })
    return { outcome, buildId: r.build.id, status: r.build.status, transition: r.transition }
  }
}

/**
 * How the webhook route stores a delivery, on either engine: each call is one writer transaction,
 * and its promise settles once that transaction is committed (the provider's 2xx waits for it).
 */
export interface DeliveryRecorder {
  log(info: DeliveryInfo, outcome: Outcome, reason: string | null): Promise<unknown>
  applyBuild(
    info: DeliveryInfo & { deliveryId: string },
    update: BuildUpdate,
    delivery: Delivery
  ): Promise<BuildOutcome>
}

/** SQLite's recorder: the writer's promise itself, so the route awaits nothing more than before. */
export function sqliteRecorder(writer: Writer, ingest: Ingest): DeliveryRecorder {
  return {
    log: (info, outcome, reason) => writer.write(() => ingest.log(info, outcome, reason)),
    applyBuild: (info, update, delivery) => writer.write((sqlite) => ingest.applyBuild(sqlite, info, update, delivery)),
  }
}

/** Deliveries on SQLite: the logic driven synchronously inside the writer's transaction. */
export class Ingest {
  readonly builds: BuildStore
  private logic: DeliveryLogic

  constructor(
    sqlite: Sqlite,
    private hub: Hub
  ) {
    this.builds = new BuildStore(sqlite)
    this.logic = new DeliveryLogic(sqliteDeliverySteps(deliveryStatements(dbOf(sqlite))), this.builds.logic)
  }

  log(info: DeliveryInfo, outcome: Outcome, reason: string | null, buildId: string | null = null): number {
    return runSync(this.logic.log(info, outcome, reason, buildId))
  }

  /** Applies a build update exactly once per delivery id. Runs inside a writer transaction. */
  applyBuild(
    sqlite: Sqlite,
    info: DeliveryInfo & { deliveryId: string },
    update: BuildUpdate,
    delivery: Delivery
  ): BuildOutcome {
    return runSync(this.logic.applyBuild(info, update, delivery, (type, data) => this.hub.persist(sqlite, type, data)))
  }
}
