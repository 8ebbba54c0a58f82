/** @module The CI capability: webhook routes, build API, feeds, the `pipelines` snapshot, retention. */
import type { Capability, CapabilityFactory } from '../server.ts'
import { apiRoutes } from './api.ts'
import { feedRoutes } from './feeds.ts'
import { hookRoutes } from './hooks.ts'
import { Ingest } from './ingest.ts'
import type { Provider } from './provider.ts'
import { PROVIDERS } from './registry.ts'
import { deliveries, deliveryKeys, rawBodies } from '../db/schema.ts'
import { DAY_MS } from '../time.ts'
import { sqliteOnly } from '../db/engine.ts'

/** `providers`: the registry's; a test passes its own list to serve a throwaway provider. */
export const ciCapability = (
  { config, engine, hub, log, telemetry, retention }: Parameters<CapabilityFactory>[0],
  providers: readonly Provider[] = PROVIDERS
): Capability => {
  const { store, writer } = sqliteOnly(engine, 'the CI capability')
  const ingest = new Ingest(store.sqlite, hub)
  // Raw bodies and the delivery log are kept RAW_RETENTION_DAYS.
  for (const t of [rawBodies, deliveries, deliveryKeys])
    retention.byAge(t, t.receivedAt, config.RAW_RETENTION_DAYS * DAY_MS)
  hub.addSnapshot('pipelines', () => ingest.builds.tiles())
  return {
    mounts: [
      ['/hooks', hookRoutes({ config, writer, ingest, log, telemetry, providers })],
      ['/api', apiRoutes(store.sqlite, ingest.builds)],
      ['/', feedRoutes(store.sqlite, ingest.builds, config.PUBLIC_URL?.replace(/\/$/, ''))],
    ],
  }
}
