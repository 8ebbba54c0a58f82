/** @module The CI capability: webhook routes, build API, feeds, the `pipelines` snapshot, retention. */
import type { CapabilityFactory } from '../server.ts'
import { apiRoutes } from './api.ts'
import { feedRoutes } from './feeds.ts'
import { hookRoutes } from './hooks.ts'
import { Ingest } from './ingest.ts'
import { deliveries, deliveryKeys, rawBodies } from '../db/schema.ts'
import { DAY_MS } from '../time.ts'

export const ciCapability: CapabilityFactory = ({ config, store, writer, hub, log, telemetry, retention }) => {
  const ingest = new Ingest(store.sqlite, hub)
  // Raw bodies and the delivery log are kept RAW_RETENTION_DAYS.
  for (const t of [rawBodies, deliveries, deliveryKeys])
    retention.byAge(t, t.receivedAt, config.RAW_RETENTION_DAYS * DAY_MS)
  hub.addSnapshot('pipelines', () => ingest.builds.tiles())
  return {
    mounts: [
      ['/hooks', hookRoutes({ config, writer, ingest, log, telemetry })],
      ['/api', apiRoutes(store.sqlite, ingest.builds)],
      ['/', feedRoutes(store.sqlite, ingest.builds, config.PUBLIC_URL?.replace(/\/$/, ''))],
    ],
  }
}
