/**
 * @module Starts and stops one Radiator: database, writer, hub, app, HTTP + WebSocket server and the
 * background timers. Used by main.ts and by the integration tests (on port 0, temp data dir).
 */
import { serve } from '@hono/node-server'
import { createServer, type RequestListener, type ServerOptions } from 'node:http'
import { closeSync, openSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import type { Hono } from 'hono'
import type { Config } from './config.ts'
import { createApp } from './app.ts'
import { databasePath, openStore, type Store } from './db/client.ts'
import { StartupError } from './errors.ts'
import { Writer } from './db/writer.ts'
import { Hub } from './live/hub.ts'
import { liveWebSocketServer } from './live/ws.ts'
import { pollNodeRoutes } from './live/poll-node.ts'
import type { Logger } from './log.ts'
import { withNodeRoutes, type NodeRoutes } from './http/node-routes.ts'
import { answerUpgrades, lingerOnClose, withPlainUpgradeRefused } from './http/connections.ts'
import { currentVersion } from './version.ts'
import { createAccess, firstStartLink } from './access/index.ts'
import type { Credentials } from './access/credentials.ts'
import { Telemetry } from './observability/telemetry.ts'
import { Scheduler } from './jobs/scheduler.ts'
import { RetentionSweep } from './jobs/retention.ts'
import { backupJob } from './db/backup.ts'
import { DAY_MS } from './time.ts'
import type { Engine } from './db/engine.ts'
import { type Bus, LocalBus } from './cluster/bus.ts'
import { type ClusterMember, joinCluster } from './cluster/start.ts'

export interface Capability {
  /** Mount path and sub-app. */
  mounts: [string, Hono][]
  /** Hot routes answered on Node's request before Hono (see http/node-routes.ts). */
  nodeRoutes?: NodeRoutes
  /** Work started with the server (background jobs go to the scheduler instead); returns its stopper. */
  start?(): () => void
}

export type CapabilityFactory = (ctx: {
  config: Config
  /** Where the store is (SQLite, or PostgreSQL in a cluster): a capability picks its statements by kind. */
  engine: Engine
  /** Announcements between the instances of a cluster (in-process when alone): server/cluster/bus.ts. */
  bus: Bus
  hub: Hub
  log: Logger
  /** Counters for GET /metrics. */
  telemetry: Telemetry
  /** The one scheduler: a capability adds its background jobs; they start with the server. */
  jobs: Scheduler
  /** The one retention sweep: a capability registers each of its tables' retention once. */
  retention: RetentionSweep
}) => Capability

export interface RunningServer {
  url: string
  port: number
  /** The store, SQLite or PostgreSQL. */
  engine: Engine
  /** The SQLite store (throws on PostgreSQL: tests written for SQLite). */
  store: Store
  writer: Writer
  /** Where the data is, for the start-up lines. */
  where: string
  hub: Hub
  version: string
  credentials: Credentials
  /** Every route the app serves, with its handlers (the access test walks them). */
  routes: Hono['routes']
  /** The background jobs (a test runs one now with `jobs.run(name)`). */
  jobs: Scheduler
  /**
   * A one-time admin sign-in link, printed by main.ts, when no admin exists yet and no ADMIN_TOKEN
   * is set; null otherwise. Never logged.
   */
  signinUrl: string | null
  /** Open TCP connections, upgraded ones included (for tests: nothing may leak). */
  connections(): Promise<number>
  /** Graceful stop: stop accepting, close live clients with 1001, finish writes, close the database. */
  close(): Promise<void>
}

/**
 * How long a cluster member waits at start-up for the live stream to reach what its views loaded
 * (cluster/feed.ts); a relay that is still starting (its leader too) takes about a lease check.
 */
const CLUSTER_CATCH_UP_MS = 10_000

/** The one path that upgrades (to WebSocket): app.ts mounts the live routes here. */
const WS_PATH = '/live'

export async function startServer(
  config: Config,
  log: Logger,
  capabilities: CapabilityFactory[] = [],
  opts: { version?: string } = {}
): Promise<RunningServer> {
  const startedAt = Date.now()
  const version = opts.version ?? currentVersion()
  const hubOptions = {
    version,
    replayBuffer: config.LIVE_REPLAY_BUFFER,
    retentionMs: config.EVENT_RETENTION_DAYS * DAY_MS,
    heartbeatMs: config.LIVE_HEARTBEAT_MS,
    pollTimeoutMs: config.LIVE_POLL_TIMEOUT_MS,
    onViewError: (e: unknown, ev: { id: number; type: string }) =>
      log.warn('live: a view could not take an event', { id: ev.id, type: ev.type, err: String(e) }),
  }
  // Alone on SQLite (the default), or one of a cluster on PostgreSQL + NATS JetStream (issue 17).
  let engine: Engine
  let hub: Hub
  let bus: Bus
  let member: ClusterMember | null = null
  if (config.DATABASE_URL) {
    if (config.BACKUP_DIR)
      throw new StartupError('BACKUP_DIR is for the SQLite store; on PostgreSQL (DATABASE_URL) back up with pg_dump')
    member = await joinCluster(config, log)
    engine = member.engine
    bus = member.bus
    hub = Hub.inCluster(member.feed, hubOptions)
  } else {
    const store = openDataDir(config)
    const writer = new Writer(store.sqlite, store.syncWal)
    engine = { kind: 'sqlite', store, writer }
    bus = new LocalBus()
    hub = new Hub(store, writer, hubOptions)
  }
  const writer = engine.writer
  const telemetry = new Telemetry({ version, writer, hub })
  const access = createAccess(config, engine, hub, bus, {
    onError: (e) => log.warn('access: the credential mirror could not be refreshed', { err: String(e) }),
  })
  const closeStore = async () => {
    access.close()
    if (member) await member.close()
    else if (engine.kind === 'sqlite') {
      await engine.writer.close()
      engine.store.close()
    }
  }
  // A revoked token or session loses its open live connections at once (close code 4401).
  access.credentials.onRevoke((r) => hub.closeWhere((c) => c.principal === r.id, 4401, 'access revoked'))
  const lease = member?.lease
  const jobs = new Scheduler(log, lease ? () => lease.leading : undefined)
  const retention = RetentionSweep.on(engine)
  // Persisted live events are kept EVENT_RETENTION_DAYS (the hub's retentionMs above); in a cluster
  // the stream ages them out itself and the event log's rows go once relayed.
  if (engine.kind === 'sqlite') retention.step('events', (stopping) => hub.trim(stopping))
  else
    retention.step('events', (stopping) =>
      retention.drainPg(
        'events',
        `at < $1 AND id <= (SELECT value::bigint FROM meta WHERE key = 'events_relayed_through')`,
        () => [Date.now() - config.EVENT_RETENTION_DAYS * DAY_MS],
        stopping
      )
    )
  jobs.add(retention.job())
  jobs.add({ name: 'live heartbeat', every: config.LIVE_HEARTBEAT_MS, run: () => hub.tick() })
  // Off unless BACKUP_DIR is set; runs on the server's own connection (see db/backup.ts).
  if (config.BACKUP_DIR && engine.kind === 'sqlite')
    jobs.add(
      backupJob({
        sqlite: engine.store.sqlite,
        dir: config.BACKUP_DIR,
        everyMs: config.BACKUP_EVERY,
        keep: config.BACKUP_KEEP,
        log,
      })
    )
  const caps = capabilities.map((f) => f({ config, engine, bus, hub, log, telemetry, jobs, retention }))
  // On PostgreSQL the credential mirror loads first (until then every check answers 503).
  await access.ready
  if (member && !(await hub.startCluster(CLUSTER_CATCH_UP_MS)))
    log.warn('cluster: the live stream has not caught up with the store yet; serving anyway (is a leader relaying?)')
  const app = createApp({
    config,
    engine,
    hub,
    log,
    telemetry,
    version,
    startedAt,
    access: access.control,
    mounts: [['/', access.routes], ...caps.flatMap((c) => c.mounts)],
  })

  const wss = liveWebSocketServer()
  const nodeRoutes: NodeRoutes = Object.assign(
    await pollNodeRoutes({ hub, config, log, telemetry, access: access.control }),
    ...caps.map((c) => c.nodeRoutes)
  )
  const server = serve({
    fetch: app.fetch,
    websocket: { server: wss },
    port: config.PORT,
    hostname: config.HOST,
    createServer: ((options: ServerOptions, listener: RequestListener) =>
      createServer(
        options,
        withPlainUpgradeRefused(WS_PATH, withNodeRoutes(nodeRoutes, listener))
      )) as typeof createServer,
  }) as Server
  answerUpgrades(server, WS_PATH)
  lingerOnClose(server)
  try {
    await new Promise<void>((resolve, reject) => {
      if (server.listening) return resolve()
      server.once('listening', resolve)
      server.once('error', reject)
    })
  } catch (e) {
    hub.stopCluster()
    await closeStore()
    throw explainListen(e, config)
  }
  const port = (server.address() as AddressInfo).port

  jobs.start()
  const stoppers = caps.map((c) => c.start?.()).filter((s): s is () => void => !!s)

  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? 'localhost' : config.HOST
  const url = config.PUBLIC_URL?.replace(/\/$/, '') ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`

  let closing: Promise<void> | undefined
  const close = () =>
    (closing ??= (async () => {
      // Disarmed at once; a run in progress (a backup, a retention batch) finishes before the writer closes.
      const jobsDone = jobs.stop()
      for (const s of stoppers) s()
      const closed = new Promise<void>((r) => server.close(() => r()))
      hub.closeAll(1001, 'going away')
      // In-flight requests (a webhook waiting for its COMMIT) get a moment to finish; connections
      // that turn idle meanwhile (ended live streams) are closed as they do.
      const reap = setInterval(() => server.closeIdleConnections(), 20)
      server.closeIdleConnections()
      await Promise.race([closed, new Promise((r) => setTimeout(r, 2500).unref())])
      clearInterval(reap)
      server.closeAllConnections()
      for (const ws of wss.clients) ws.terminate()
      await jobsDone
      hub.stopCluster()
      await closeStore()
    })())

  const connections = () =>
    new Promise<number>((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))))

  const signinUrl = await firstStartLink(config, access.credentials, url)

  return {
    url,
    port,
    engine,
    get store(): Store {
      if (engine.kind !== 'sqlite') throw new Error('this server runs on PostgreSQL: use server.engine')
      return engine.store
    },
    get writer(): Writer {
      if (engine.kind !== 'sqlite') throw new Error('this server runs on PostgreSQL: use server.engine')
      return engine.writer
    },
    where: engine.kind === 'sqlite' ? engine.store.path : member!.where,
    hub,
    version,
    credentials: access.credentials,
    signinUrl,
    routes: app.routes,
    jobs,
    connections,
    close,
  }
}

type Errno = Error & { code?: string; path?: string }

/**
 * The database under DATA_DIR, or a StartupError naming DATA_DIR and what to do: these are the
 * operator's to fix (a file in the way, a read-only mount, a file that is not a database, a full
 * disk), and a stack trace says none of that.
 */
function openDataDir(config: Config): Store {
  const dir = config.DATA_DIR
  const path = databasePath(dir)
  try {
    return openStore(path, { cacheMb: config.DB_CACHE_MB })
  } catch (e) {
    const err = e as Errno
    const writable = `set DATA_DIR to a directory the user running Radiator can write (in Docker, mount a volume there)`
    switch (err.code) {
      case 'ENOTDIR':
      case 'EEXIST':
        throw new StartupError(`DATA_DIR=${dir} is not a directory (${err.path ?? dir} is a file); ${writable}`)
      case 'EACCES':
      case 'EPERM':
      case 'EROFS':
      case 'ENOENT':
        throw new StartupError(`DATA_DIR=${dir} can't be created (${err.code} at ${err.path ?? dir}); ${writable}`)
      case 'SQLITE_CANTOPEN':
      case 'SQLITE_READONLY':
      case 'SQLITE_READONLY_DIRECTORY':
        throw new StartupError(
          `DATA_DIR=${dir}: ${path} can't be opened for writing (${whyNotWritable(path) ?? err.code}); ${writable}`
        )
      case 'SQLITE_NOTADB':
      case 'SQLITE_CORRUPT':
        throw new StartupError(
          `DATA_DIR=${dir}: ${path} is not a usable SQLite database (${err.message}); move it aside to start with an empty one, or restore it from a backup`
        )
      case 'SQLITE_FULL':
      case 'ENOSPC':
        throw new StartupError(`DATA_DIR=${dir}: the disk is full; free some space and start again`)
    }
    if (err.code?.startsWith('SQLITE_IOERR'))
      throw new StartupError(
        `DATA_DIR=${dir}: reading or writing ${path} failed (${err.code}: ${err.message}); check the disk`
      )
    throw e
  }
}

/** SQLite's "unable to open database file" says nothing of why; the file system does. */
function whyNotWritable(path: string): string | null {
  try {
    closeSync(openSync(path, 'a'))
    return null
  } catch (e) {
    return (e as Errno).code ?? null
  }
}

function explainListen(e: unknown, config: Config): unknown {
  const at = `HOST=${config.HOST} PORT=${config.PORT}`
  switch ((e as Errno).code) {
    case 'EADDRINUSE':
      return new StartupError(
        `PORT=${config.PORT} is already in use on HOST=${config.HOST}; stop the other process or set PORT to a free port`
      )
    case 'EACCES':
    case 'EPERM':
      return new StartupError(
        `PORT=${config.PORT} may not be opened by this user (${at}); use a port above 1023 or grant the capability to bind it`
      )
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new StartupError(
        `HOST=${config.HOST} is not an address of this machine; set HOST to one of its addresses, 0.0.0.0 for all, or 127.0.0.1`
      )
  }
  return e
}
