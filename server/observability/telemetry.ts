/**
 * @module The Prometheus series of one Radiator, on a registry of its own (two servers in one test
 * process never share a counter). Hot paths keep plain integer counts that are read at scrape time
 * (beacons, the hub's fan-out); the rest counts through prom-client directly. Label values come
 * from closed lists or registered route patterns only: never a raw path, branch or site name.
 */
import { TRANSPORTS, type Transport } from '../../contract/vocabularies.ts'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { AnyWriter } from '../db/engine.ts'
import type { Hub } from '../live/hub.ts'
import type { IngestStats } from '../metrics/pipeline.ts'

/** Seconds, from 100 µs (a COMMIT of a few rows) to 2.5 s (a disk in trouble). */
const DB_SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5]
const HTTP_SECONDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const BATCH_OPS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096]

/** How a live client came to be cut off, from the transports' reasons (a closed list). */
export type CutOffReason = 'slow' | 'unresponsive' | 'stalled'
export function cutOffReason(reason: string): CutOffReason {
  return reason === 'no pong' ? 'unresponsive' : reason.includes('catching up') ? 'stalled' : 'slow'
}

/**
 * Answers per status of a route served outside Hono: one array increment per request, nothing
 * allocated (about 5 ns over an empty loop, measured here; a beacon request takes some 35 µs).
 */
export class StatusCounts {
  readonly counts = new Float64Array(600)
  add(status: number): void {
    this.counts[status]!++
  }
}

export interface TelemetryDeps {
  version: string
  writer: AnyWriter
  hub: Hub
}

export class Telemetry {
  readonly registry = new Registry()
  private httpRequests
  private httpSeconds
  private webhooks
  private cutOffs
  private nodeRoutes: { method: string; route: string; counts: StatusCounts; seen: Float64Array }[] = []
  private beaconStats: IngestStats[] = []

  constructor(deps: TelemetryDeps) {
    const registers = [this.registry]
    collectDefaultMetrics({ register: this.registry })
    new Gauge({
      name: 'radiator_build_info',
      help: 'Always 1; the running version as a label',
      labelNames: ['version'],
      registers,
    }).set({ version: deps.version }, 1)

    this.httpRequests = new Counter({
      name: 'radiator_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers,
      collect: () => this.readNodeRoutes(),
    })
    this.httpSeconds = new Histogram({
      name: 'radiator_http_request_duration_seconds',
      help: 'Time to answer a request (to its headers, for a stream), by method and route pattern; /api/collect and /live/poll are counted, not timed',
      labelNames: ['method', 'route'],
      buckets: HTTP_SECONDS,
      registers,
    })
    this.webhooks = new Counter({
      name: 'radiator_webhook_deliveries_total',
      help: 'Webhook deliveries by provider and outcome',
      labelNames: ['provider', 'outcome'],
      registers,
    })

    const beacons = this.beaconStats
    new Counter({
      name: 'radiator_beacons_accepted_total',
      help: 'Beacons accepted (committed) by POST /api/collect',
      registers,
      collect() {
        this.reset()
        this.inc(beacons.reduce((n, s) => n + s.accepted, 0))
      },
    })
    new Counter({
      name: 'radiator_beacons_dropped_total',
      help: 'Beacons dropped, by reason',
      labelNames: ['reason'],
      registers,
      collect() {
        this.reset()
        for (const s of beacons) for (const [reason, n] of Object.entries(s.dropped)) this.inc({ reason }, n)
      },
    })

    const hub = deps.hub
    new Gauge({
      name: 'radiator_live_clients',
      help: 'Open live connections by transport (a long poll while it is held)',
      labelNames: ['transport'],
      registers,
      collect() {
        this.reset()
        for (const t of TRANSPORTS) this.set({ transport: t }, 0)
        for (const [t, n] of hub.clientsByTransport()) this.set({ transport: t }, n)
      },
    })
    new Counter({
      name: 'radiator_live_events_published_total',
      help: 'Events published on the live stream',
      registers,
      collect() {
        this.reset()
        this.inc(hub.stats.published)
      },
    })
    new Counter({
      name: 'radiator_live_events_sent_total',
      help: 'Live events sent to clients (one per event and subscribed client; snapshots and replays not counted)',
      registers,
      collect() {
        this.reset()
        this.inc(hub.stats.sent)
      },
    })
    this.cutOffs = new Counter({
      name: 'radiator_live_cutoffs_total',
      help: 'Live clients cut off, by transport and reason (slow: over LIVE_CLIENT_BUFFER_BYTES; unresponsive: no pong; stalled: took nothing while catching up)',
      labelNames: ['transport', 'reason'],
      registers,
    })
    new Gauge({
      name: 'radiator_live_replay_buffer_events',
      help: 'Events held in memory for resuming clients (at most LIVE_REPLAY_BUFFER)',
      registers,
      collect() {
        this.set(hub.replayDepth)
      },
    })

    const writer = deps.writer
    const batchOps = new Histogram({
      name: 'radiator_db_write_batch_ops',
      help: 'Writes committed together in one transaction (group commit)',
      buckets: BATCH_OPS,
      registers,
    })
    const commitSeconds = new Histogram({
      name: 'radiator_db_commit_seconds',
      help: 'Time of one COMMIT statement',
      buckets: DB_SECONDS,
      registers,
    })
    const syncSeconds = new Histogram({
      name: 'radiator_db_wal_sync_seconds',
      help: 'Time of one fdatasync of the WAL after COMMIT (off the event loop)',
      buckets: DB_SECONDS,
      registers,
    })
    new Counter({
      name: 'radiator_db_failed_writes_total',
      help: 'Writes that failed and rolled back (their caller got an error)',
      registers,
      collect() {
        this.reset()
        this.inc(writer.stats.failed)
      },
    })
    writer.observer = {
      committed(ops, seconds) {
        batchOps.observe(ops)
        commitSeconds.observe(seconds)
      },
      synced(seconds) {
        syncSeconds.observe(seconds)
      },
    }
  }

  /** One answered request of the Hono app. */
  request(method: string, route: string, status: number, seconds: number): void {
    this.httpRequests.inc({ method, route, status: String(status) })
    this.httpSeconds.observe({ method, route }, seconds)
  }

  /** The status counts of a route answered outside Hono (node-routes.ts), read at scrape time. */
  nodeRoute(method: string, route: string): StatusCounts {
    const counts = new StatusCounts()
    this.nodeRoutes.push({ method, route, counts, seen: new Float64Array(600) })
    return counts
  }

  /** The beacon pipeline's own counters, read at scrape time. */
  beacons(stats: IngestStats): void {
    this.beaconStats.push(stats)
  }

  webhook(provider: string, outcome: WebhookOutcome): void {
    this.webhooks.inc({ provider, outcome })
  }

  liveCutOff(transport: Transport, reason: string): void {
    this.cutOffs.inc({ transport, reason: cutOffReason(reason) })
  }

  /** The Prometheus text exposition format. */
  async scrape(): Promise<{ body: string; contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType }
  }

  private readNodeRoutes(): void {
    for (const r of this.nodeRoutes)
      r.counts.counts.forEach((n, status) => {
        const delta = n - r.seen[status]!
        if (delta > 0) this.httpRequests.inc({ method: r.method, route: r.route, status: String(status) }, delta)
        r.seen[status] = n
      })
  }
}

export const WEBHOOK_OUTCOMES = [
  'stored',
  'superseded',
  'duplicate',
  'ignored',
  'ping',
  'unauthorized',
  'invalid',
  'rate_limited',
  'failed',
] as const
export type WebhookOutcome = (typeof WEBHOOK_OUTCOMES)[number]
