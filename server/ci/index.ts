/** @module The CI capability: webhook routes, build API, feeds, the `pipelines` snapshot, retention. */
import type { Capability, CapabilityFactory } from '../server.ts'
import { apiRoutes } from './api.ts'
import { feedRoutes } from './feeds.ts'
import { hookRoutes } from './hooks.ts'
import { type DeliveryRecorder, Ingest, sqliteRecorder } from './ingest.ts'
import type { Provider } from './provider.ts'
import { PROVIDERS } from './registry.ts'
import { deliveries, deliveryKeys, rawBodies } from '../db/schema.ts'
import { DAY_MS } from '../time.ts'
import { PgIngest } from './pg-ingest.ts'
import { type CiReads, pgReads, sqliteReads } from './reads.ts'
import { TileView } from './tile-view.ts'

/** `providers`: the registry's; a test passes its own list to serve a throwaway provider. */
export const ciCapability = (
  { config, engine, hub, log, telemetry, retention }: Parameters<CapabilityFactory>[0],
  providers: readonly Provider[] = PROVIDERS
): Capability => {
  let recorder: DeliveryRecorder
  let reads: CiReads
  if (engine.kind === 'sqlite') {
    const ingest = new Ingest(engine.store.sqlite, hub)
    recorder = sqliteRecorder(engine.writer, ingest)
    reads = sqliteReads(engine.store.sqlite, ingest.builds)
    hub.addSnapshot('pipelines', () => ingest.builds.tiles())
  } else {
    recorder = new PgIngest(engine.writer, (tx, type, data) => hub.persist(tx, type, data))
    reads = pgReads(engine.store)
    // The snapshot is synchronous: on PostgreSQL it is the tiles kept in memory, fed by the stream.
    const view = new TileView()
    hub.addView(view)
    hub.addSnapshot('pipelines', () => view.tiles())
  }
  // Raw bodies and the delivery log are kept RAW_RETENTION_DAYS (the sweep runs them on either engine).
  for (const t of [rawBodies, deliveries, deliveryKeys])
    retention.byAge(t, t.receivedAt, config.RAW_RETENTION_DAYS * DAY_MS)
  return {
    mounts: [
      ['/hooks', hookRoutes({ config, deliveries: recorder, log, telemetry, providers })],
      ['/api', apiRoutes(reads)],
      ['/', feedRoutes(reads, config.PUBLIC_URL?.replace(/\/$/, ''))],
    ],
  }
}
