/** @module The CI capability: webhook routes, build API, feeds, the `pipelines` snapshot, retention. */
import type { CapabilityFactory } from '../server.ts'
import { apiRoutes } from './api.ts'
import { feedRoutes } from './feeds.ts'
import { hookRoutes } from './hooks.ts'
import { Ingest } from './ingest.ts'

const DAY = 86_400_000

export const ciCapability: CapabilityFactory = ({ config, store, writer, hub, log, telemetry }) => {
  const ingest = new Ingest(store.sqlite, hub)
  hub.addSnapshot('pipelines', () => ingest.builds.tiles())
  return {
    mounts: [
      ['/hooks', hookRoutes({ config, writer, ingest, log, telemetry })],
      ['/api', apiRoutes(store.sqlite, ingest.builds)],
      ['/', feedRoutes(store.sqlite, ingest.builds, config.PUBLIC_URL?.replace(/\/$/, ''))],
    ],
    start() {
      // Raw bodies and the delivery log are kept RAW_RETENTION_DAYS; deleted in small batches
      // through the writer so a large backlog never holds the write lock for long.
      const sweep = async () => {
        const cutoff = Date.now() - config.RAW_RETENTION_DAYS * DAY
        for (const table of ['raw_bodies', 'deliveries', 'delivery_keys']) {
          for (;;) {
            const n = await writer.write(
              (s) =>
                s
                  .prepare(
                    `DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE received_at < ? LIMIT 5000)`
                  )
                  .run(cutoff).changes
            )
            if (n < 5000) break
          }
        }
      }
      const run = () => void sweep().catch((e) => log.warn('raw body retention failed', { err: String(e) }))
      const timer = setInterval(run, 3600_000)
      timer.unref()
      setImmediate(run)
      return () => clearInterval(timer)
    },
  }
}
