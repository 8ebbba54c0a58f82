/**
 * @module The site-metrics capability: /beacon.js, /api/collect, sites and their summaries, custom
 * metrics, live `visitors`/`vitals`/`metric` events, and the background rollup and retention jobs.
 * Time comes from one `now` so tests can move the clock (midnight, retention) without mocks.
 */
import { RateLimiter } from '../http/rate-limit.ts'
import type { CapabilityFactory } from '../server.ts'
import { beaconRoutes } from './beacon-file.ts'
import { CustomMetrics } from './custom.ts'
import { LIVE_PUSH_DEFAULTS, LivePush, type LivePushOptions } from './live-push.ts'
import { COLLECT_PATH, collectHandler } from './collect.ts'
import { createIngest } from './pipeline.ts'
import { loadPresence, Presence } from './presence.ts'
import { RawWrites } from './raw.ts'
import { registerMetricsRetention } from './retention.ts'
import { Roller } from './rollups.ts'
import { registerHistogramFunctions } from '../db/sqlite-functions.ts'
import { metricsRoutes } from './routes.ts'
import { sqliteOnly } from '../db/engine.ts'
import { Sites } from './sites.ts'
import { Summaries } from './summary.ts'
import { VisitorIds } from './visitor-hash.ts'

export interface MetricsOptions extends Partial<LivePushOptions> {
  now?: () => number
  /** How often new raw rows are rolled up. */
  rollEveryMs?: number
  /** Where the built beacon is served from. */
  beaconPath?: string
}

export function createMetricsCapability(opts: MetricsOptions = {}): CapabilityFactory {
  return ({ config, engine, hub, log, telemetry, jobs, retention }) => {
    const { store, writer } = sqliteOnly(engine, 'the site-metrics capability')
    const now = opts.now ?? Date.now
    const sqlite = store.sqlite
    const onError = (what: string) => (e: unknown) => log.warn(`metrics: ${what} failed`, { err: String(e) })
    registerHistogramFunctions(sqlite)

    const sites = new Sites(config.SITES, config.SITES_ALLOW_SUBDOMAINS, config.SITE_DEPLOYS)
    const presence = new Presence(now)
    loadPresence(store.db, presence)
    const visitors = new VisitorIds(store.db, writer, now)
    const roller = new Roller(sqlite, writer)
    const summaries = new Summaries(store.db, presence, now)
    const custom = new CustomMetrics(store.db, writer, hub, now)
    registerMetricsRetention(retention, store.db, visitors, {
      rawDays: config.RAW_RETENTION_DAYS,
      rollupDays: config.ROLLUP_RETENTION_DAYS,
      now,
    })
    const pushEvery: LivePushOptions = {
      visitorsEveryMs: opts.visitorsEveryMs ?? LIVE_PUSH_DEFAULTS.visitorsEveryMs,
      vitalsEveryMs: opts.vitalsEveryMs ?? LIVE_PUSH_DEFAULTS.vitalsEveryMs,
      sweepEveryMs: opts.sweepEveryMs ?? LIVE_PUSH_DEFAULTS.sweepEveryMs,
    }
    const live = new LivePush(hub, sites, presence, summaries, now, pushEvery, onError('live push'))
    const ingest = createIngest({
      sites,
      visitors,
      presence,
      raw: new RawWrites(sqlite, () => roller.rolledSamplesThrough()),
      writer,
      now,
      perAddress:
        config.COLLECT_PER_MINUTE > 0
          ? new RateLimiter(config.COLLECT_PER_MINUTE) /* real time, not the data clock */
          : null,
      onAccepted: (site) => live.visited(site),
    })
    telemetry.beacons(ingest.stats)
    hub.addSnapshot('sites', () => live.snapshot())
    hub.addSnapshot('metrics', () => custom.latestByName())
    jobs.add(visitors.rotationJob())
    jobs.add(roller.job(opts.rollEveryMs ?? 1000, (s) => live.rolled(s)))
    jobs.add(live.sweepJob())

    return {
      mounts: [
        ['/api', metricsRoutes({ config, ingest, sites, presence, summaries, custom, now })],
        ['/', beaconRoutes(opts.beaconPath)],
      ],
      nodeRoutes: {
        [`POST ${COLLECT_PATH}`]: collectHandler({
          ingest,
          sites,
          trustProxy: config.TRUST_PROXY,
          log,
          requests: telemetry.nodeRoute('POST', COLLECT_PATH),
        }),
      },
      start() {
        writer.write(() => sites.sync(store.db, now())).catch(onError('sites sync'))
        return () => live.stop()
      },
    }
  }
}

export const metricsCapability = createMetricsCapability()
