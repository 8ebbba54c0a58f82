/**
 * @module The site-metrics capability: /beacon.js, /api/collect, sites and their summaries, custom
 * metrics, live `visitors`/`vitals`/`metric` events, and the background rollup and retention jobs.
 * Time comes from one `now` so tests can move the clock (midnight, retention) without mocks.
 * On SQLite (one instance) or PostgreSQL (a cluster, issue 17): the same model and answers; what
 * differs is where each part reads and writes, chosen once here by `engine.kind`.
 */
import { RateLimiter } from '../http/rate-limit.ts'
import type { Capability, CapabilityFactory } from '../server.ts'
import { beaconRoutes } from './beacon-file.ts'
import { CustomMetrics } from './custom.ts'
import { LIVE_PUSH_DEFAULTS, LivePush, type LivePushOptions } from './live-push.ts'
import { COLLECT_PATH, collectHandler } from './collect.ts'
import { createIngest, type IngestDeps } from './pipeline.ts'
import { loadPresence, Presence } from './presence.ts'
import { registerMetricsRetention, registerPgMetricsRetention } from './retention.ts'
import { RawWrites } from './raw.ts'
import { Roller } from './rollups.ts'
import { registerHistogramFunctions } from '../db/sqlite-functions.ts'
import { type MetricsRouteDeps, metricsRoutes } from './routes.ts'
import type { PgEngine, SqliteEngine } from '../db/engine.ts'
import { PgCustomMetrics } from './pg-custom.ts'
import { PgRawWrites } from './pg-raw.ts'
import { PgRoller } from './pg-rollups.ts'
import { PgSummaries } from './pg-summary.ts'
import { PgVisitorIds } from './pg-visitor-ids.ts'
import { CATCH_UP_EVERY_MS, loadPresenceFrom, PresenceCatchUp, PresenceShare } from './shared-presence.ts'
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

type Ctx = Parameters<CapabilityFactory>[0]

export function createMetricsCapability(opts: MetricsOptions = {}): CapabilityFactory {
  return (ctx) => (ctx.engine.kind === 'pg' ? onPg(ctx, ctx.engine, opts) : onSqlite(ctx, ctx.engine, opts))
}

/** What both engines build the same way: the push intervals, the ingest pipeline and the routes. */
function common(ctx: Ctx, opts: MetricsOptions) {
  const { config, log } = ctx
  const now = opts.now ?? Date.now
  const onError = (what: string) => (e: unknown) => log.warn(`metrics: ${what} failed`, { err: String(e) })
  const sites = new Sites(config.SITES, config.SITES_ALLOW_SUBDOMAINS, config.SITE_DEPLOYS)
  const presence = new Presence(now)
  const pushEvery: LivePushOptions = {
    visitorsEveryMs: opts.visitorsEveryMs ?? LIVE_PUSH_DEFAULTS.visitorsEveryMs,
    vitalsEveryMs: opts.vitalsEveryMs ?? LIVE_PUSH_DEFAULTS.vitalsEveryMs,
    sweepEveryMs: opts.sweepEveryMs ?? LIVE_PUSH_DEFAULTS.sweepEveryMs,
  }
  const ingestOf = (deps: Omit<IngestDeps, 'sites' | 'now' | 'perAddress'>) => {
    const ingest = createIngest({
      ...deps,
      sites,
      now,
      perAddress:
        config.COLLECT_PER_MINUTE > 0
          ? new RateLimiter(config.COLLECT_PER_MINUTE) /* real time, not the data clock */
          : null,
    })
    ctx.telemetry.beacons(ingest.stats)
    return ingest
  }
  const surface = (
    ingest: ReturnType<typeof createIngest>,
    summaries: MetricsRouteDeps['summaries'],
    custom: MetricsRouteDeps['custom']
  ) => ({
    mounts: [
      ['/api', metricsRoutes({ config, ingest, sites, presence, summaries, custom, now })],
      ['/', beaconRoutes(opts.beaconPath)],
    ] as Capability['mounts'],
    nodeRoutes: {
      [`POST ${COLLECT_PATH}`]: collectHandler({
        ingest,
        sites,
        trustProxy: config.TRUST_PROXY,
        log,
        requests: ctx.telemetry.nodeRoute('POST', COLLECT_PATH),
      }),
    },
  })
  return { now, onError, sites, presence, pushEvery, ingestOf, surface }
}

function onSqlite(ctx: Ctx, { store, writer }: SqliteEngine, opts: MetricsOptions): Capability {
  const { config, hub, jobs, retention } = ctx
  const { now, onError, sites, presence, pushEvery, ingestOf, surface } = common(ctx, opts)
  const sqlite = store.sqlite
  registerHistogramFunctions(sqlite)
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
  const live = new LivePush(hub, sites, presence, summaries, now, pushEvery, onError('live push'))
  const raw = new RawWrites(sqlite, () => roller.rolledSamplesThrough())
  const ingest = ingestOf({
    visitors,
    presence,
    store: (b) => writer.write(() => raw.write(b)),
    onAccepted: (site) => live.visited(site),
  })
  hub.addSnapshot('sites', () => live.snapshot())
  hub.addSnapshot('metrics', () => custom.latestByName())
  jobs.add(visitors.rotationJob())
  jobs.add(roller.job(opts.rollEveryMs ?? 1000, (s) => live.rolled(s)))
  jobs.add(live.sweepJob())

  return {
    ...surface(ingest, summaries, custom),
    start() {
      writer.write(() => sites.sync(store.db, now())).catch(onError('sites sync'))
      return () => live.stop()
    },
  }
}

/**
 * The cluster's metrics (issue 17). Every instance takes beacons, answers summaries and keeps the
 * same in-memory figures (presence shared over the bus: shared-presence.ts); rollups, salt pruning
 * and retention run on the leader; the live `visitors` and `vitals` events are published by the
 * leader only, or every screen would get each change once per instance. Which instance leads is
 * the scheduler's to know: a leader-only job marks this one as publishing for a few of its periods,
 * so a deposed leader stops within seconds (both may publish for that moment: the same figures,
 * which screens take as the latest value).
 */
function onPg(ctx: Ctx, { store, writer }: PgEngine, opts: MetricsOptions): Capability {
  const { config, hub, jobs, retention, bus, log } = ctx
  const { now, onError, sites, presence, pushEvery, ingestOf, surface } = common(ctx, opts)
  const pool = store.pool
  const visitors = new PgVisitorIds(pool, now)
  const raw = new PgRawWrites()
  writer.addHooks(raw)
  const roller = new PgRoller(pool, writer)
  const summaries = new PgSummaries(pool, presence, now)
  const custom = new PgCustomMetrics(pool, writer, hub, bus, now)
  registerPgMetricsRetention(retention, pool, visitors, {
    rawDays: config.RAW_RETENTION_DAYS,
    rollupDays: config.ROLLUP_RETENTION_DAYS,
    now,
  })
  const leadEvery = pushEvery.visitorsEveryMs
  let publishingUntil = 0
  const live = new LivePush(
    hub,
    sites,
    presence,
    summaries,
    now,
    pushEvery,
    onError('live push'),
    () => Date.now() < publishingUntil
  )
  const share = new PresenceShare(presence, bus, (changed) => {
    for (const s of changed) live.visited(s)
  })
  let catchUp: PresenceCatchUp | null = null
  // The factory is synchronous: the start-up reads run now, and beacons wait for them (ready below).
  let loading: Promise<void> | null = Promise.all([loadPresenceFrom(pool, presence), visitors.load(), custom.load()])
    .then(
      ([last]) => void (catchUp = new PresenceCatchUp(pool, presence, last)),
      (e) => {
        log.warn('metrics: loading presence, salts and latest metrics failed', { err: String(e) })
        // The catch-up then reads the last hour itself.
        catchUp = new PresenceCatchUp(pool, presence, 0)
      }
    )
    .finally(() => {
      share.start()
      loading = null
    })
  const ingest = ingestOf({
    visitors: {
      idFor: (site, ip, ua, known) => visitors.idFor(site, ip, ua, known),
      ready: () => loading ?? visitors.ready(),
    },
    presence: share,
    store: (b) => writer.write((tx) => raw.write(tx, b)),
    onAccepted: (site) => live.visited(site),
  })
  hub.addSnapshot('sites', () => live.snapshot())
  hub.addSnapshot('metrics', () => custom.latestByName())
  jobs.add(visitors.rotationJob())
  jobs.add(roller.job(opts.rollEveryMs ?? 1000, (s) => live.rolled(s)))
  jobs.add(live.sweepJob())
  jobs.add({
    name: 'presence catch-up',
    every: CATCH_UP_EVERY_MS,
    run: async () => {
      const n = await catchUp?.run()
      if (n) for (const s of sites.list) live.visited(s)
    },
  })
  jobs.add({
    name: 'site figures publisher',
    cluster: 'leader',
    firstAfterMs: 0,
    every: leadEvery,
    run: () => {
      const was = Date.now() < publishingUntil
      // Real time, not the metrics clock: it measures the scheduler's own turns.
      publishingUntil = Date.now() + Math.max(3 * leadEvery, 3000)
      if (!was) for (const s of sites.list) live.visited(s)
    },
  })

  return {
    ...surface(ingest, summaries, custom),
    start() {
      writer.write((tx) => sites.syncPg(tx, now())).catch(onError('sites sync'))
      return () => {
        live.stop()
        share.stop()
      }
    },
  }
}

export const metricsCapability = createMetricsCapability()
