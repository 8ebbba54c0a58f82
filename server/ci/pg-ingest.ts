/**
 * @module Deliveries on PostgreSQL (issue 17): the same DeliveryLogic and BuildLogic SQLite runs,
 * over pg-steps.ts's statements, each delivery one op of the PgWriter (2xx only after its COMMIT;
 * a batch that deadlocks with another instance's is retried op by op, so an op may run again: it
 * holds no state of its own between runs). Live events go to `persist` inside the op, so they commit
 * or roll back with it.
 */
import type pg from 'pg'
import type { EventData, EventType } from '../../contract/live.ts'
import type { PgWriter } from '../db/pg/writer.ts'
import { runAsync } from '../db/steps.ts'
import type { Delivery } from './provider.ts'
import type { BuildUpdate } from './model.ts'
import { type DeliveryInfo, DeliveryLogic, type DeliveryRecorder, type Outcome } from './ingest.ts'
import { pgDeliverySteps, pgSteps } from './pg-steps.ts'
import { BuildLogic, NO_TILE_CACHE } from './store.ts'

/**
 * PostgreSQL's text cannot hold NUL (SQLite's can), and a provider may send one in any string: it is
 * stored as U+FFFD, before the logic runs, so names and the tile ids made from them agree throughout.
 */
function withoutNul<T>(v: T): T {
  if (typeof v === 'string') return (v.includes('\0') ? v.replaceAll('\0', '\uFFFD') : v) as T
  if (Array.isArray(v)) return v.map(withoutNul) as T
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v)) out[k] = withoutNul(x)
    return out as T
  }
  return v
}

/** Persists a live event inside the writer op whose connection is `tx` (the hub's, on PostgreSQL). */
export type PgPersist = <T extends EventType>(tx: pg.ClientBase, type: T, data: EventData<T>) => void

export class PgIngest implements DeliveryRecorder {
  /**
   * The logic bound to the writer's connection, made again when the writer makes a new one: drizzle
   * handles are not made per delivery, and BuildLogic keeps when it last expired waiting jobs.
   */
  private logicOf = new WeakMap<pg.ClientBase, DeliveryLogic>()

  constructor(
    private writer: PgWriter,
    private persist: PgPersist
  ) {}

  private logic(tx: pg.ClientBase): DeliveryLogic {
    let l = this.logicOf.get(tx)
    if (!l)
      this.logicOf.set(tx, (l = new DeliveryLogic(pgDeliverySteps(tx), new BuildLogic(pgSteps(tx), NO_TILE_CACHE))))
    return l
  }

  log(info: DeliveryInfo, outcome: Outcome, reason: string | null): Promise<number> {
    const [i, r] = [withoutNul(info), withoutNul(reason)]
    return this.writer.write((tx) => runAsync(this.logic(tx).log(i, outcome, r)))
  }

  applyBuild(info: DeliveryInfo & { deliveryId: string }, update: BuildUpdate, delivery: Delivery) {
    const [i, u] = [withoutNul(info), withoutNul(update)]
    return this.writer.write((tx) =>
      runAsync(this.logic(tx).applyBuild(i, u, delivery, (type, data) => this.persist(tx, type, data)))
    )
  }
}
