import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { connect as natsConnect } from '@nats-io/transport-node'
import { LiveStream, type StreamEvent } from '../cluster/stream.ts'
import {
  GENERIC_TOKEN,
  GITHUB_SECRET,
  healthy,
  type Member,
  SITE,
  startMember,
  testCluster,
  threeBehindNginx,
  type TestCluster,
} from './cluster.ts'
import { loadFixture } from './fixtures.ts'
import { adminAuth, until, type LiveMessage } from './harness.ts'
import { NGINX, type RunningProxy } from './proxies.ts'
import { NATS_URL, servicesUp } from './services.ts'
import { sign as signGithub } from './sign/github.ts'
import WebSocket from 'ws'

const up = servicesUp('postgres', 'nats')
/** Distinct visitors: the proxy is every request's peer, so they differ by browser. */
const VISITORS = 5
const uaOf = (v: number) =>
  `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.${v}.0 Safari/537.36`
const SLOW_MS = 60_000
const PERSISTED = /^build\./

/**
 * A live client through the proxy that does what the dashboard does: when its connection ends it
 * connects again, resuming after the last id it got (WebSocket `?since=`, SSE `Last-Event-ID`).
 */
class ResumingClient {
  messages: LiveMessage[] = []
  lastId: number | null = null
  connections = 0
  private stopped = false
  private ws: WebSocket | null = null
  private abort: AbortController | null = null

  constructor(
    private kind: 'ws' | 'sse',
    private base: string
  ) {
    void this.loop()
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      this.connections++
      await (this.kind === 'ws' ? this.runWs() : this.runSse()).catch(() => {})
      if (!this.stopped) await new Promise((r) => setTimeout(r, 100))
    }
  }

  private take(m: LiveMessage): void {
    if (m.type === 'heartbeat' || m.type === 'control') return
    this.messages.push(m)
    if (typeof m.id === 'number' && m.type !== 'snapshot') this.lastId = m.id
    else if (m.type === 'snapshot' && this.lastId === null) this.lastId = m.id ?? null
  }

  private runWs(): Promise<void> {
    const since = this.lastId === null ? '' : `?since=${this.lastId}`
    return new Promise((resolve) => {
      const ws = new WebSocket(`${this.base.replace('http', 'ws')}/live${since}`)
      this.ws = ws
      ws.on('message', (d) => this.take(JSON.parse(String(d))))
      ws.on('close', () => resolve())
      ws.on('error', () => resolve())
    })
  }

  private async runSse(): Promise<void> {
    this.abort = new AbortController()
    const headers: Record<string, string> = this.lastId === null ? {} : { 'last-event-id': String(this.lastId) }
    const res = await fetch(`${this.base}/live/sse`, { headers, signal: this.abort.signal })
    if (!res.body) return
    const dec = new TextDecoder()
    let buf = ''
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += dec.decode(chunk, { stream: true })
      for (let i = buf.indexOf('\n\n'); i !== -1; i = buf.indexOf('\n\n')) {
        const data = buf
          .slice(0, i)
          .split('\n')
          .filter((l) => l.startsWith('data: '))
          .map((l) => l.slice(6))
          .join('')
        buf = buf.slice(i + 2)
        if (data) this.take(JSON.parse(data))
      }
    }
  }

  /** The stream's events it received (not snapshots), in arrival order. */
  events(): LiveMessage[] {
    return this.messages.filter((m) => m.type !== 'snapshot')
  }

  stop(): void {
    this.stopped = true
    this.ws?.terminate()
    this.abort?.abort()
  }
}

const github = loadFixture('github', 'workflow_run-completed-success')
type Sent = { kind: 'github' | 'generic' | 'beacon'; key: string; visitor?: number }

/**
 * One delivery or beacon through the proxy, sent again (same delivery id) while the answer is an
 * error or never came, as a provider retries; resolves once acknowledged.
 */
async function deliver(base: string, n: number): Promise<Sent> {
  const kind = n % 3 === 0 ? 'github' : n % 3 === 1 ? 'generic' : 'beacon'
  const key = kind === 'beacon' ? `/cluster/${n}` : `cluster-${kind}-${n}`
  const visitor = n % VISITORS
  for (let attempt = 0; ; attempt++) {
    if (attempt > 40) throw new Error(`${kind} ${key}: never acknowledged`)
    try {
      let res: Response
      if (kind === 'github')
        res = await fetch(`${base}/hooks/github`, {
          method: 'POST',
          headers: { ...github.headers, 'X-GitHub-Delivery': key, ...signGithub(github.raw, GITHUB_SECRET) },
          body: new Uint8Array(github.raw),
        })
      else if (kind === 'generic')
        res = await fetch(`${base}/hooks/generic`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${GENERIC_TOKEN}`,
            'content-type': 'application/json',
            'idempotency-key': key,
          },
          body: JSON.stringify({
            id: key,
            project: 'acme/cluster',
            pipeline: `p${n % 4}`,
            branch: 'main',
            status: n % 2 ? 'success' : 'failure',
            number: n,
          }),
        })
      else
        res = await fetch(`${base}/api/collect`, {
          method: 'POST',
          headers: {
            'content-type': 'text/plain;charset=UTF-8',
            origin: `https://${SITE}`,
            'user-agent': uaOf(visitor),
          },
          body: JSON.stringify({ site: SITE, width: 1280, events: [{ type: 'pageview', path: key }] }),
        })
      await res.arrayBuffer()
      if (res.status === (kind === 'beacon' ? 202 : 200) && !res.headers.get('x-radiator-dropped'))
        return { kind, key, visitor }
      // 502/503/504: the instance died or refused while the proxy held the request. A 4xx is a bug.
      if (res.status < 500) throw new Error(`${kind} ${key}: ${res.status}`)
    } catch (e) {
      if (!(e instanceof TypeError)) throw e
    }
    // A beacon is not retried by browsers (sendBeacon is fire-and-forget): one lost is simply not acknowledged.
    if (kind === 'beacon') return { kind: 'beacon', key: '', visitor }
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe.runIf(up && NGINX)('three instances behind nginx, the leader SIGKILLed mid-burst', () => {
  let cluster: TestCluster
  let proxy: RunningProxy | undefined
  const members: Member[] = []
  const clients: ResumingClient[] = []

  afterAll(async () => {
    for (const c of clients) c.stop()
    for (const m of members) m.child.kill('SIGKILL')
    await proxy?.stop()
    await cluster?.drop()
  })

  it('stores every acknowledged delivery once, gives every client every event once in order, fails over and rejoins', {
    timeout: 240_000,
  }, async () => {
    cluster = await testCluster()
    ;({ proxy } = await threeBehindNginx(cluster, members))
    const base = proxy.url

    for (const kind of ['ws', 'sse', 'ws', 'sse', 'ws', 'sse'] as const) clients.push(new ResumingClient(kind, base))
    await until(() => clients.every((c) => c.messages[0]?.type === 'snapshot'), 'every client has its snapshot')

    const leaderIndex = await until(
      () => members.findIndex((m) => m.out.includes('this instance leads')) + 1,
      'a leader',
      SLOW_MS
    )
    const leader = members[leaderIndex - 1]!

    const acked: Sent[] = []
    let next = 0
    let killedAt = -1
    const TOTAL = 240
    const worker = async () => {
      while (next < TOTAL) {
        const r = await deliver(base, next++)
        if (r.key) acked.push(r)
        if (killedAt < 0 && acked.length >= 80) {
          killedAt = acked.length
          leader.child.kill('SIGKILL')
        }
      }
    }
    await Promise.all(Array.from({ length: 6 }, worker))
    expect(await leader.exited).toBe('SIGKILL')
    const survivors = members.filter((m) => m !== leader)
    await until(() => survivors.some((m) => m.out.includes('this instance leads')), 'a survivor leads', SLOW_MS)

    // The killed instance rejoins on its port; the proxy sends it traffic again.
    const rejoined = startMember(cluster, leader.port)
    members.push(rejoined)
    await until(() => healthy(leader.port), `the killed instance back (${rejoined.out})`, SLOW_MS)
    for (let i = 0; i < 6; i++) {
      const r = await deliver(base, TOTAL + i * 3 + 1) // generic deliveries after the rejoin
      acked.push(r)
    }

    // Everything relayed: the stream's last message carries the event log's newest id.
    const pool = new pg.Pool({ connectionString: cluster.databaseUrl })
    const nc = await natsConnect({ servers: NATS_URL })
    try {
      const stream = new LiveStream(nc, { name: cluster.stream, maxAgeMs: 3_600_000 })
      await stream.ensure()
      const logged = async () =>
        Number((await pool.query<{ value: string }>(`SELECT value FROM meta WHERE key = 'event_id'`)).rows[0]!.value)
      await until(async () => (await stream.tail()).through === (await logged()), 'the relay caught up', SLOW_MS)
      const tail = await stream.tail()
      await until(
        () => clients.every((c) => c.lastId !== null && c.lastId >= tail.seq),
        'every client at the stream head',
        SLOW_MS
      )
      const all = (await stream.range(0, tail.seq))!
      expect(all).not.toBeNull()
      const bySeq = new Map<number, StreamEvent>(all.map((e) => [e.id, e]))

      // Stored once: every acknowledged delivery applied once, every acknowledged beacon one hit.
      const one = async (sql: string, args: unknown[]) => Number((await pool.query(sql, args)).rows[0].n)
      for (const a of acked) {
        if (a.kind === 'beacon') {
          expect(
            await one('SELECT count(*) AS n FROM site_hits WHERE site = $1 AND path = $2', [SITE, a.key]),
            a.key
          ).toBe(1)
          continue
        }
        expect(
          await one(
            `SELECT count(*) AS n FROM deliveries WHERE provider = $1 AND delivery_id = $2 AND outcome IN ('stored', 'superseded')`,
            [a.kind, a.key]
          ),
          `${a.kind} ${a.key} applied once`
        ).toBe(1)
      }
      const twice = await pool.query(
        `SELECT provider, delivery_id FROM deliveries WHERE outcome IN ('stored', 'superseded') GROUP BY provider, delivery_id HAVING count(*) > 1`
      )
      expect(twice.rows).toEqual([])

      // The stream holds each stored event once, in the event log's order.
      const events = (await pool.query<{ id: string; data: string }>('SELECT id, data FROM events ORDER BY id')).rows
      const persistedInStream = all.filter((e) => PERSISTED.test(e.type))
      expect(persistedInStream.map((e) => e.through)).toEqual(events.map((e) => Number(e.id)))
      expect(persistedInStream.map((e) => e.data)).toEqual(events.map((e) => e.data))

      // Every client: ids contiguous from its first snapshot to the head, each equal to the stream's.
      for (const [i, c] of clients.entries()) {
        const ids = c.events().map((m) => m.id!)
        const from = c.messages[0]!.id!
        expect(ids, `client ${i} (${c.connections} connections)`).toEqual(
          Array.from({ length: tail.seq - from }, (_, k) => from + 1 + k)
        )
        for (const m of c.events())
          expect(m.data, `client ${i} event ${m.id}`).toEqual(JSON.parse(bySeq.get(m.id!)!.data))
      }
      expect(
        clients.some((c) => c.connections > 1),
        'some client was on the killed instance and reconnected'
      ).toBe(true)

      // Visitor counts: every instance says what one instance would (VISITORS distinct browsers).
      const beacons = acked.filter((a) => a.kind === 'beacon')
      const visitors = new Set(beacons.map((a) => a.visitor)).size
      for (const m of [...survivors, rejoined]) {
        const summary = async () => {
          const r = await fetch(`http://127.0.0.1:${m.port}/api/sites/${SITE}/summary?window=1h`, {
            headers: adminAuth,
          })
          return (await r.json()) as { visitors: { last5m: number }; pageviews: number }
        }
        // Rollups complete: every stored page view counted once (a beacon cut off by the kill may
        // be stored without its 202 having arrived: stored, not acknowledged).
        const stored = await one(`SELECT count(*) AS n FROM site_hits WHERE site = $1 AND kind = 'pageview'`, [SITE])
        expect(stored).toBeGreaterThanOrEqual(beacons.length)
        await until(async () => (await summary()).pageviews === stored, `rollups complete on :${m.port}`, SLOW_MS)
        expect((await summary()).visitors.last5m).toBe(visitors)
      }
      // One line for the notes: how much went through and how often the clients had to reconnect.
      console.info(
        `cluster-proxy: ${acked.length} acknowledged (${beacons.length} beacons), stream ${tail.seq} events, ` +
          `client connections ${clients.map((c) => c.connections).join('/')}, leader killed after ${killedAt} acks`
      )
      const lastVisitors = (c: ResumingClient) =>
        c
          .events()
          .filter((m) => m.type === 'visitors' && m.data.site === SITE)
          .at(-1)?.data.last5m
      await until(
        () => clients.every((c) => lastVisitors(c) === visitors),
        'every client shows the visitor count',
        SLOW_MS
      )
    } finally {
      await nc.close()
      await pool.end()
    }
  })
})
