/**
 * @module One instance of a cluster (DATABASE_URL + LIVE_BUS_URL), put together: the PostgreSQL store
 * and its group-commit writer, the NATS connection, the live stream, the bus, the hub's feed and the
 * leader lease that decides who relays events and runs the once-per-cluster jobs.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node'
import type { Config } from '../config.ts'
import type { PgEngine } from '../db/engine.ts'
import { openPgStore } from '../db/pg/client.ts'
import { PgWriter } from '../db/pg/writer.ts'
import { StartupError } from '../errors.ts'
import type { Logger } from '../log.ts'
import { DAY_MS } from '../time.ts'
import { NatsBus } from './bus.ts'
import { initEventLog } from './event-log.ts'
import { ClusterFeed } from './feed.ts'
import { LeaderLease } from './lease.ts'
import { EventRelay } from './relay.ts'
import { LiveStream } from './stream.ts'

export interface ClusterMember {
  engine: PgEngine
  bus: NatsBus
  feed: ClusterFeed
  lease: LeaderLease
  relay: EventRelay
  /** Where the store and the stream are, for the start-up lines (no password). */
  where: string
  close(): Promise<void>
}

/** The advisory lock key of the leader lease ('Radi' 'lead'): one per database. */
const LEASE_KEY = 0x5261_6469

export async function joinCluster(config: Config, log: Logger): Promise<ClusterMember> {
  const url = config.DATABASE_URL!
  const report = (what: string) => (e: unknown) => log.warn(`cluster: ${what}`, { err: String(e) })
  const store = await openPgStore(url, { onIdleError: (m) => log.warn(m) })
  let nc: NatsConnection | null = null
  try {
    await initEventLog(store.pool)
    nc = await connectNats(config.LIVE_BUS_URL!)
    const stream = new LiveStream(nc, {
      name: config.LIVE_STREAM_NAME,
      maxAgeMs: config.EVENT_RETENTION_DAYS * DAY_MS,
    })
    await stream.ensure()
    const writer = new PgWriter(url)
    const feed = new ClusterFeed(stream, store.pool, report('live stream'))
    writer.addHooks(feed.pending)
    const relay = new EventRelay(store.pool, stream, report('relay'))
    const lease = new LeaderLease({
      url,
      key: LEASE_KEY,
      onChange(leading) {
        log.info(leading ? 'cluster: this instance leads (relay, rollups, retention)' : 'cluster: no longer leading')
        if (leading) relay.start().catch(report('relay start'))
        else relay.stop().catch(report('relay stop'))
      },
      onError: report('leader lease'),
    })
    lease.start()
    const bus = new NatsBus(nc, config.LIVE_STREAM_NAME, report('bus'))
    const conn = nc
    return {
      engine: { kind: 'pg', store, writer },
      bus,
      feed,
      lease,
      relay,
      where: `${store.where}, live stream ${config.LIVE_STREAM_NAME} on ${config.LIVE_BUS_URL}`,
      async close() {
        feed.stop()
        await writer.close()
        await lease.stop()
        await relay.stop()
        await bus.close()
        await conn.drain().catch(() => {})
        await store.close()
      },
    }
  } catch (e) {
    await nc?.close().catch(() => {})
    await store.close().catch(() => {})
    throw e
  }
}

async function connectNats(url: string): Promise<NatsConnection> {
  const servers = url.split(',').map((s) => s.trim())
  try {
    return await connect({ servers, name: 'radiator', maxReconnectAttempts: -1, reconnectTimeWait: 500 })
  } catch (e) {
    throw new StartupError(
      `LIVE_BUS_URL=${url}: can't connect to NATS (${(e as Error).message}); is it running, with JetStream on (nats-server -js)?`
    )
  }
}
