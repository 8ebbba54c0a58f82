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
    return this.writer.write((tx) => runAsync(this.logic(tx).log(info, outcome, reason)))
  }

  applyBuild(info: DeliveryInfo & { deliveryId: string }, update: BuildUpdate, delivery: Delivery) {
    return this.writer.write((tx) =>
      runAsync(this.logic(tx).applyBuild(info, update, delivery, (type, data) => this.persist(tx, type, data)))
    )
  }
}
