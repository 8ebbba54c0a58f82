/**
 * @module Integration-test helpers: a real Radiator on an ephemeral loopback port with a temp SQLite
 * file (or, with RADIATOR_TEST_ENGINE=pg, a fresh PostgreSQL database and JetStream stream), and real
 * live clients (ws, SSE over fetch, long polling).
 */
import { afterEach } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { configFrom, type ConfigVar } from '../config.ts'
import { createLogger } from '../log.ts'
import { startServer, type CapabilityFactory, type RunningServer } from '../server.ts'
import { capabilities } from '../capabilities.ts'
import type pg from 'pg'
import type { Sqlite } from '../db/client.ts'
import type { Engine } from '../db/engine.ts'
import type { Hub, LiveEvent } from '../live/hub.ts'
import type { SnapshotData, StreamEvent } from '../../contract/live.ts'
import { type TestCluster, testCluster } from './cluster.ts'

export interface TestServer extends RunningServer {
  dataDir: string
  /** Stops the server and deletes its data directory. */
  destroy(): Promise<void>
}

/**
 * Test servers are open to viewers (PUBLIC_DASHBOARD) and have this admin token, so tests about
 * something else read the API as before; the access tests set both explicitly.
 */
export const TEST_ADMIN_TOKEN = 'test-admin-token'
export const adminAuth = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }

/**
 * The engine test servers run on: SQLite (the default), or PostgreSQL with NATS JetStream under
 * RADIATOR_TEST_ENGINE=pg (`npm run test:pg`, the matrix's second pass). A test that passes its own
 * DATABASE_URL chooses for itself.
 */
export const TEST_ENGINE: Engine['kind'] = testEngine(process.env.RADIATOR_TEST_ENGINE)

function testEngine(v: string | undefined): Engine['kind'] {
  if (v === undefined || v === '' || v === 'sqlite') return 'sqlite'
  if (v === 'pg') return 'pg'
  throw new Error(`RADIATOR_TEST_ENGINE=${v}: use sqlite (the default) or pg`)
}

/**
 * On PostgreSQL, a data directory's database and stream: a server started again on the same
 * directory (a restart) finds its data there, as on SQLite; `destroy()` drops them.
 */
const clusters = new Map<string, TestCluster>()

async function clusterFor(dataDir: string): Promise<TestCluster> {
  let c = clusters.get(dataDir)
  if (!c) {
    c = await testCluster()
    clusters.set(dataDir, c)
  }
  return c
}

async function dropCluster(dataDir: string): Promise<void> {
  const c = clusters.get(dataDir)
  clusters.delete(dataDir)
  await c?.drop()
}

/** Drops the databases and streams of servers a test closed without `destroy()` (the pg pass's setup file). */
export async function dropTestClusters(): Promise<void> {
  await Promise.all([...clusters.keys()].map(dropCluster))
}

export function tempDir(prefix = 'radiator-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

export async function startTestServer(
  env: Partial<Record<ConfigVar, string>> = {},
  dataDir = tempDir(),
  caps: CapabilityFactory[] = capabilities,
  /** Where log lines go (a test reading them); silent unless LOG_LEVEL says otherwise. */
  logTo?: (line: string) => void
): Promise<TestServer> {
  const onPg = TEST_ENGINE === 'pg' && !env.DATABASE_URL
  const cluster = onPg ? (await clusterFor(dataDir)).env : {}
  const config = configFrom({
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    PUBLIC_DASHBOARD: 'true',
    ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    ...cluster,
    ...env,
    DATA_DIR: dataDir,
  })
  // The version is 'test', or the PUBLIC_URL when one is given: a restart with another URL then
  // reads as an upgrade to open pages (the reload-on-upgrade browser test relies on it).
  const s = await startServer(config, createLogger(config.LOG_LEVEL, logTo), caps, {
    version: env.PUBLIC_URL ?? 'test',
  })
  // Copied as descriptors, not spread: `store` and `writer` are getters that throw on PostgreSQL.
  // Left out of a test's own spread (`{ ...s, url }`) for the same reason.
  const own = Object.getOwnPropertyDescriptors(s)
  own.store.enumerable = false
  own.writer.enumerable = false
  const destroy = async () => {
    await s.close()
    if (onPg) await dropCluster(dataDir)
    rmSync(dataDir, { recursive: true, force: true })
  }
  return Object.defineProperties({ dataDir, destroy }, own) as TestServer
}

type Env = Partial<Record<ConfigVar, string>>

/**
 * Servers and clean-ups for one test file: `server()` starts a test server with the file's
 * defaults, `cleanup()` registers something to close; all of it ends after each test.
 */
export function perTest(defaults: Env = {}) {
  const servers: TestServer[] = []
  const cleanups: (() => void)[] = []
  afterEach(async () => {
    cleanups.splice(0).forEach((f) => f())
    await Promise.all(servers.splice(0).map((s) => s.destroy()))
  })
  return {
    async server(env: Env = {}, dir?: string): Promise<TestServer> {
      const s = await startTestServer({ ...defaults, ...env }, dir)
      servers.push(s)
      return s
    },
    /** Stops a server started by `server()` without deleting its data (a restart follows). */
    async stop(s: TestServer): Promise<void> {
      await s.close()
      servers.splice(servers.indexOf(s), 1)
    },
    cleanup(...fns: (() => void)[]): void {
      cleanups.push(...fns)
    },
  }
}

/**
 * A message as a test client receives it: the contract's envelope (contract/live.ts), with `type` and
 * `data` left open because the hub's own tests publish opaque payloads (`publishRaw`); a test that
 * wants the product's shapes parses with the contract's `liveMessage`.
 */
export type LiveMessage = Partial<Pick<StreamEvent, 'id' | 'at'>> & { type: string; data?: any }

/**
 * The snapshot a client connecting now would get (a long poll's first answer). On PostgreSQL it
 * follows the stream, a moment behind the writes' 200s: a test about what comes after a board is
 * built waits until the snapshot shows it.
 */
export async function liveSnapshot(s: RunningServer): Promise<SnapshotData> {
  const res = await fetch(`${s.url}/live/poll?snapshot=1`, { headers: adminAuth })
  const { events } = (await res.json()) as { events: StreamEvent[] }
  const first = events[0]
  if (first?.type !== 'snapshot') throw new Error(`a long poll with snapshot=1 began with ${first?.type}`)
  return first.data
}

/** Waits until `pred` holds, polling every 10 ms; fails with `what` after `ms`. */
export async function until<T>(
  pred: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  what: string,
  ms = 10_000
): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await pred()
    if (v) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

export class WsTestClient {
  messages: LiveMessage[] = []
  /** Per message, the bytes the socket had read when it arrived (the handshake included). */
  wireBytes: number[] = []
  closeCode: number | null = null
  readonly ws: WebSocket
  readonly opened: Promise<void>
  /** `opts`: as `ws` takes them; by default it offers permessage-deflate, as browsers do. */
  constructor(url: string, opts?: WebSocket.ClientOptions) {
    this.ws = new WebSocket(url, opts)
    this.ws.on('message', (d) => {
      this.messages.push(JSON.parse(String(d)))
      this.wireBytes.push((this.ws as unknown as { _socket: { bytesRead: number } })._socket.bytesRead)
    })
    this.ws.on('close', (code) => (this.closeCode = code))
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve())
      this.ws.once('error', reject)
    })
  }
  events(): LiveMessage[] {
    return this.messages.filter((m) => m.type !== 'heartbeat')
  }
  close(): void {
    this.ws.close()
  }
}

export class SseTestClient {
  messages: LiveMessage[] = []
  ids: (number | null)[] = []
  done: Promise<void>
  private ctrl = new AbortController()
  status = 0
  constructor(url: string, headers: Record<string, string> = {}) {
    this.done = (async () => {
      const res = await fetch(url, { headers, signal: this.ctrl.signal })
      this.status = res.status
      if (!res.body) return
      const dec = new TextDecoder()
      let buf = ''
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += dec.decode(chunk, { stream: true })
        let i: number
        while ((i = buf.indexOf('\n\n')) !== -1) {
          const block = buf.slice(0, i)
          buf = buf.slice(i + 2)
          let id: number | null = null
          let data = ''
          for (const line of block.split('\n')) {
            if (line.startsWith('id: ')) id = Number(line.slice(4))
            else if (line.startsWith('data: ')) data += line.slice(6)
          }
          if (data) {
            this.messages.push(JSON.parse(data))
            this.ids.push(id)
          }
        }
      }
    })().catch(() => {})
  }
  events(): LiveMessage[] {
    return this.messages.filter((m) => m.type !== 'heartbeat')
  }
  close(): void {
    this.ctrl.abort()
  }
}

/** A long-polling client that loops like the page does, resuming from its last id. */
export class PollTestClient {
  messages: LiveMessage[] = []
  private stopped = false
  lastId: number | null
  constructor(
    private base: string,
    since: number | null = null,
    private topics?: string
  ) {
    this.lastId = since
    void this.loop()
  }
  private async loop() {
    let first = true
    while (!this.stopped) {
      const u = new URL('/live/poll', this.base)
      if (this.lastId !== null) u.searchParams.set('since', String(this.lastId))
      if (first) u.searchParams.set('snapshot', '1')
      if (this.topics) u.searchParams.set('topics', this.topics)
      first = false
      try {
        const res = await fetch(u)
        const body = (await res.json()) as { events: LiveMessage[] }
        for (const e of body.events) {
          this.messages.push(e)
          if (typeof e.id === 'number') this.lastId = Math.max(this.lastId ?? 0, e.id)
          if (e.type === 'snapshot' && e.data?.reset) this.lastId = e.id!
        }
      } catch {
        if (this.stopped) return
        await new Promise((r) => setTimeout(r, 50))
      }
    }
  }
  events(): LiveMessage[] {
    return this.messages
  }
  close(): void {
    this.stopped = true
  }
}

/**
 * The hub's own tests send opaque payloads: the hub carries any JSON, while the contract types what
 * the product publishes (contract/live.ts). These two are the only untyped way in.
 */
type RawHub = {
  publish(type: string, data: unknown, key?: string): LiveEvent
  persist(tx: Sqlite | pg.ClientBase, type: string, data: unknown): LiveEvent
}
export const publishRaw = (hub: Hub, type: string, data: unknown, key?: string): LiveEvent =>
  (hub as unknown as RawHub).publish(type, data, key)

/** Persists one (opaque) event inside a writer op the test runs. */
export const persistRaw = (s: RunningServer, tx: Sqlite | pg.ClientBase, type: string, data: unknown): LiveEvent =>
  (s.hub as unknown as RawHub).persist(tx, type, data)

/**
 * Runs one statement on the server's database, whichever engine it is, outside the writer (a test
 * reading what was stored, or ageing rows): `?` placeholders, rows as the driver gives them (on
 * PostgreSQL a count or a bigint is a string: `Number()` it, or CAST(... AS integer) in the SQL).
 */
export async function query<T = Record<string, unknown>>(
  s: RunningServer,
  sql: string,
  ...params: unknown[]
): Promise<T[]> {
  const e = s.engine
  if (e.kind === 'sqlite') {
    const stmt = e.store.sqlite.prepare(sql)
    if (stmt.reader) return stmt.all(...params) as T[]
    stmt.run(...params)
    return []
  }
  let n = 0
  const { rows } = await e.store.pool.query(
    sql.replace(/\?/g, () => `$${++n}`),
    params
  )
  return rows as T[]
}

/**
 * Persists one (opaque) event through the real writer, as a webhook would, and answers it as clients
 * receive it: on PostgreSQL its id is the stream's sequence, known once it comes back from the stream.
 */
export async function persistEvent(s: RunningServer, type: string, data: unknown): Promise<LiveEvent> {
  const e = s.engine
  if (e.kind === 'sqlite') return e.writer.write((sqlite) => persistRaw(s, sqlite, type, data))
  const back = returning(s.hub).next(type, data)
  back.catch(() => {}) // awaited below unless the write fails
  await e.writer.write(async (tx) => persistRaw(s, tx, type, data))
  return back
}

/** How long an event persisted on PostgreSQL may take to come back through the stream (a leader must relay it). */
const RETURN_MS = 15_000

/**
 * Per hub in a cluster, the events a test persisted and waits for, matched by type and data in
 * order: one view (views are never removed) sees every event as it arrives from the stream.
 */
const returns = new WeakMap<Hub, { next(type: string, data: unknown): Promise<LiveEvent> }>()

function returning(hub: Hub) {
  let r = returns.get(hub)
  if (r) return r
  const waiting = new Map<string, ((ev: LiveEvent) => void)[]>()
  hub.addView({
    load: async () => {},
    apply(ev) {
      const key = `${ev.type} ${JSON.stringify(ev.data)}`
      const w = waiting.get(key)
      w?.shift()?.(ev)
      if (w?.length === 0) waiting.delete(key)
    },
  })
  r = {
    next(type, data) {
      const key = `${type} ${JSON.stringify(data)}`
      return new Promise<LiveEvent>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${key} did not come back through the stream`)), RETURN_MS)
        const list = waiting.get(key) ?? []
        list.push((ev) => {
          clearTimeout(timer)
          resolve(ev)
        })
        waiting.set(key, list)
      })
    },
  }
  returns.set(hub, r)
  return r
}
