/**
 * @module Starts and stops one Radiator: database, writer, hub, app, HTTP + WebSocket server and the
 * background timers. Used by main.ts and by the integration tests (on port 0, temp data dir).
 */
import { serve } from '@hono/node-server'
import { createServer, type RequestListener, type ServerOptions } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { WebSocketServer } from 'ws'
import type { Hono } from 'hono'
import type { Config } from './config.ts'
import { createApp } from './app.ts'
import { databasePath, openStore, type Store } from './db/client.ts'
import { Writer } from './db/writer.ts'
import { Hub } from './live/hub.ts'
import type { Logger } from './log.ts'
import { withNodeRoutes, type NodeRoutes } from './http/node-routes.ts'
import { answerUpgrades, lingerOnClose, withPlainUpgradeRefused } from './http/connections.ts'
import { currentVersion } from './version.ts'
import { createAccess, firstStartLink } from './access/index.ts'
import type { Credentials } from './access/credentials.ts'

export interface Capability {
  /** Mount path and sub-app. */
  mounts: [string, Hono][]
  /** Hot routes answered on Node's request before Hono (see http/node-routes.ts). */
  nodeRoutes?: NodeRoutes
  /** Background work started with the server (retention, coalescing); returns its stopper. */
  start?(): () => void
}

export type CapabilityFactory = (ctx: {
  config: Config
  store: Store
  writer: Writer
  hub: Hub
  log: Logger
}) => Capability

export interface RunningServer {
  url: string
  port: number
  store: Store
  writer: Writer
  hub: Hub
  version: string
  credentials: Credentials
  /** Every route the app serves, with its handlers (the access test walks them). */
  routes: Hono['routes']
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

const DAY = 86_400_000
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
  const store = openStore(databasePath(config.DATA_DIR), { cacheMb: config.DB_CACHE_MB })
  const writer = new Writer(store.sqlite, store.syncWal)
  const hub = new Hub(store, writer, {
    version,
    replayBuffer: config.LIVE_REPLAY_BUFFER,
    retentionMs: config.EVENT_RETENTION_DAYS * DAY,
    heartbeatMs: config.LIVE_HEARTBEAT_MS,
    pollTimeoutMs: config.LIVE_POLL_TIMEOUT_MS,
  })
  const access = createAccess(config, store, writer)
  // A revoked token or session loses its open live connections at once (close code 4401).
  access.credentials.onRevoke((r) => hub.closeWhere((c) => c.principal === r.id, 4401, 'access revoked'))
  const caps = capabilities.map((f) => f({ config, store, writer, hub, log }))
  const app = createApp({
    config,
    store,
    writer,
    hub,
    log,
    version,
    startedAt,
    access: access.control,
    mounts: [['/', access.routes], ...caps.flatMap((c) => c.mounts)],
  })

  // Inbound WebSocket messages are not used; a small cap keeps a hostile peer from sending big frames.
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 })
  const nodeRoutes: NodeRoutes = Object.assign({}, ...caps.map((c) => c.nodeRoutes))
  const server = serve({
    fetch: app.fetch,
    websocket: { server: wss },
    port: config.PORT,
    hostname: config.HOST,
    createServer: ((options: ServerOptions, listener: RequestListener) =>
      createServer(options, withPlainUpgradeRefused(WS_PATH, withNodeRoutes(nodeRoutes, listener)))) as typeof createServer,
  }) as Server
  answerUpgrades(server, WS_PATH)
  lingerOnClose(server)
  await new Promise<void>((resolve, reject) => {
    if (server.listening) return resolve()
    server.once('listening', resolve)
    server.once('error', reject)
  })
  const port = (server.address() as AddressInfo).port

  const heartbeat = setInterval(() => hub.tick(), config.LIVE_HEARTBEAT_MS)
  const trim = () =>
    hub.trim().catch((e) => log.warn('event trim failed', { err: String(e) }))
  const trimTimer = setInterval(trim, 3600_000)
  heartbeat.unref()
  trimTimer.unref()
  setImmediate(trim)
  const stoppers = caps.map((c) => c.start?.()).filter((s): s is () => void => !!s)

  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? 'localhost' : config.HOST
  const url = config.PUBLIC_URL?.replace(/\/$/, '') ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`

  let closing: Promise<void> | undefined
  const close = () =>
    (closing ??= (async () => {
      clearInterval(heartbeat)
      clearInterval(trimTimer)
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
      await writer.close()
      store.close()
    })())

  const connections = () =>
    new Promise<number>((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))))

  const signinUrl = await firstStartLink(config, access.credentials, url)

  return { url, port, store, writer, hub, version, credentials: access.credentials, signinUrl, routes: app.routes, connections, close }
}
