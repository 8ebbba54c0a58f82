import { afterEach, describe, expect, it } from 'vitest'
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { RETENTION_BATCH } from '../jobs/retention.ts'
import {
  persistRaw,
  publishRaw,
  PollTestClient,
  SseTestClient,
  WsTestClient,
  persistEvent,
  startTestServer,
  tempDir,
  TEST_ENGINE,
  until,
  type LiveMessage,
  type TestServer,
} from './harness.ts'

const servers: TestServer[] = []
const cleanups: (() => void)[] = []
afterEach(async () => {
  cleanups.splice(0).forEach((f) => f())
  await Promise.all(servers.splice(0).map((s) => s.destroy()))
})

async function server(env: Parameters<typeof startTestServer>[0] = {}, dir?: string) {
  const s = await startTestServer({ LIVE_POLL_TIMEOUT_MS: '2000', ...env }, dir)
  servers.push(s)
  return s
}

const wsUrl = (s: TestServer, q = '') => `${s.url.replace('http', 'ws')}/live${q}`
const shape = (ms: LiveMessage[]) => ms.filter((m) => m.type !== 'snapshot').map((m) => `${m.id}:${m.type}`)

/** A mix of persisted (build) and transient (visitors) events, as the real capabilities publish. */
async function publishMix(s: TestServer, n: number) {
  for (let i = 0; i < n; i++) {
    if (i % 3 === 0) publishRaw(s.hub, 'visitors', { site: 'a.example', live: i }, 'visitors:a.example')
    else await persistEvent(s, 'build.finished', { n: i })
  }
}

/** What a long poll is answered with today (security headers included); no request id, as before. */
const POLL_HEADERS = [
  'cache-control',
  'connection',
  'content-security-policy',
  'content-type',
  'cross-origin-opener-policy',
  'cross-origin-resource-policy',
  'keep-alive',
  'origin-agent-cluster',
  'referrer-policy',
  'strict-transport-security',
  'x-content-type-options',
  'x-dns-prefetch-control',
  'x-download-options',
  'x-permitted-cross-domain-policies',
  'x-xss-protection',
]

describe('live channel', () => {
  it('sends a snapshot first on every transport, with version, server clock and head id', async () => {
    const s = await server()
    const ws = new WsTestClient(wsUrl(s))
    const sse = new SseTestClient(`${s.url}/live/sse`)
    const poll = new PollTestClient(s.url)
    cleanups.push(
      () => ws.close(),
      () => sse.close(),
      () => poll.close()
    )
    for (const c of [ws, sse, poll]) {
      const first = await until(() => c.events()[0], 'snapshot')
      expect(first.type).toBe('snapshot')
      expect(first.data.version).toBe('test')
      expect(Math.abs(Date.parse(first.data.serverTime) - Date.now())).toBeLessThan(5000)
      expect(first.data.head).toBe(s.hub.head)
      expect(first.data.heartbeatMs).toBe(15_000)
      expect(first.data.pollTimeoutMs).toBe(2000)
    }
  })

  it('delivers the same events in the same order over WebSocket, SSE and long polling', async () => {
    const s = await server()
    const ws = new WsTestClient(wsUrl(s))
    const sse = new SseTestClient(`${s.url}/live/sse`)
    const poll = new PollTestClient(s.url)
    cleanups.push(
      () => ws.close(),
      () => sse.close(),
      () => poll.close()
    )
    await until(() => ws.events().length && sse.events().length && poll.events().length, 'snapshots')
    await publishMix(s, 30)
    await until(
      () => shape(ws.events()).length === 30 && shape(sse.events()).length === 30 && shape(poll.events()).length === 30,
      'all events'
    )
    const seq = shape(ws.events())
    expect(shape(sse.events())).toEqual(seq)
    expect(shape(poll.events())).toEqual(seq)
    const ids = ws
      .events()
      .slice(1)
      .map((m) => m.id!)
    expect(ids).toEqual([...ids].sort((a, b) => a - b))
    expect(new Set(ids).size).toBe(ids.length)
    // SSE carries the id on every event so EventSource can resume by itself.
    expect(sse.ids.slice(1)).toEqual(ids)
  })

  it('replays exactly what a reconnecting client missed: no gap, no duplicate', async () => {
    const s = await server()
    const a = new WsTestClient(wsUrl(s))
    await until(() => a.events().length, 'snapshot')
    await publishMix(s, 6)
    await until(() => a.events().length === 7, 'first events')
    const last = a.events().at(-1)!.id!
    a.close()
    await publishMix(s, 9)
    const missed = s.hub.replaySince(last, null)!.map((f) => `${f.event.id}:${f.event.type}`)
    expect(missed).toHaveLength(9)
    for (const client of [
      new WsTestClient(wsUrl(s, `?since=${last}`)),
      new SseTestClient(`${s.url}/live/sse`, { 'last-event-id': String(last) }),
      new PollTestClient(s.url, last),
    ]) {
      cleanups.push(() => client.close())
      await until(() => client.events().length >= 10, 'replay')
      const evs = client.events()
      expect(evs[0]!.type).toBe('snapshot')
      expect(evs[0]!.id).toBe(last)
      expect(evs[0]!.data.reset).toBe(false)
      expect(shape(evs)).toEqual(missed)
    }
  })

  // Alone on SQLite the hub numbers events itself (publishRaw answers the id); on PostgreSQL the stream does.
  it.runIf(TEST_ENGINE === 'sqlite')(
    'resumes from the database after a restart, and ids keep increasing across it',
    async () => {
      const dir = tempDir()
      const s1 = await startTestServer({}, dir)
      await persistEvent(s1, 'build.finished', { n: 1 })
      const t = publishRaw(s1.hub, 'visitors', { live: 1 })
      await persistEvent(s1, 'build.finished', { n: 2 })
      const lastBefore = s1.hub.head
      await s1.close()

      const s2 = await server({}, dir)
      expect(s2.hub.head).toBeGreaterThanOrEqual(lastBefore)
      const t2 = publishRaw(s2.hub, 'visitors', { live: 2 })
      expect(t2.id).toBeGreaterThan(lastBefore)
      const p = await persistEvent(s2, 'build.finished', { n: 3 })
      expect(p.id).toBeGreaterThan(t2.id)

      // A client that saw the transient event before the restart gets the later build and the new value.
      const c = new WsTestClient(wsUrl(s2, `?since=${t.id}`))
      cleanups.push(() => c.close())
      await until(() => c.events().length >= 4, 'replay after restart')
      expect(
        c
          .events()
          .slice(1)
          .map((m) => m.data)
      ).toEqual([{ n: 2 }, { live: 2 }, { n: 3 }])
    }
  )

  // The hub's own trim is SQLite's; on PostgreSQL JetStream ages events out of the stream itself.
  it.runIf(TEST_ENGINE === 'sqlite')(
    'answers a resume point it cannot honour with a snapshot marked reset',
    async () => {
      const s = await server({ EVENT_RETENTION_DAYS: '1' })
      await persistEvent(s, 'build.finished', { n: 1 })
      // An id this server never issued (e.g. a screen left open across a database wipe).
      const future = new WsTestClient(wsUrl(s, `?since=${s.hub.head + 100}`))
      cleanups.push(() => future.close())
      const snap = await until(() => future.events()[0], 'snapshot')
      expect(snap.data.reset).toBe(true)
      expect(snap.id).toBe(s.hub.head)

      // Trimmed: events older than the retention are gone, so a resume from before them is a reset.
      s.store.sqlite.prepare('UPDATE events SET at = 0').run()
      await persistEvent(s, 'build.finished', { n: 2 })
      expect(await s.hub.trim()).toBe(1)
      const old = new PollTestClient(s.url, 0)
      cleanups.push(() => old.close())
      const first = await until(() => old.events()[0], 'poll snapshot')
      expect(first.type).toBe('snapshot')
      expect(first.data.reset).toBe(true)
    }
  )

  it.runIf(TEST_ENGINE === 'sqlite')(
    'trims old events a batch per writer op, and resumes after the trim point still replay',
    async () => {
      const s = await server({ EVENT_RETENTION_DAYS: '1' })
      const old = 2 * RETENTION_BATCH + 10
      await s.writer.write((sqlite) => {
        for (let i = 0; i < old; i++) persistRaw(s, sqlite, 'build.finished', { n: i })
      })
      s.store.sqlite.prepare('UPDATE events SET at = 0').run()
      const kept = await persistEvent(s, 'build.finished', { n: old })
      const batches = s.writer.stats.batches
      expect(await s.hub.trim()).toBe(old)
      // At least three ops (other writers may commit meanwhile): one transaction would be one.
      expect(s.writer.stats.batches - batches).toBeGreaterThanOrEqual(3)
      expect(s.store.sqlite.prepare('SELECT count(*) AS n FROM events').get()).toEqual({ n: 1 })

      // The newest trimmed id is the oldest resume point that is still served (nothing after it went).
      const resumed = new PollTestClient(s.url, kept.id - 1)
      cleanups.push(() => resumed.close())
      await until(() => resumed.events().some((m) => m.id === kept.id), 'the kept event')
      expect(resumed.events().filter((m) => m.type === 'snapshot' && m.data.reset)).toEqual([])
    }
  )

  it('narrows the stream with ?topics=', async () => {
    const s = await server()
    const c = new WsTestClient(wsUrl(s, '?topics=builds'))
    cleanups.push(() => c.close())
    await until(() => c.events().length, 'snapshot')
    publishRaw(s.hub, 'visitors', { live: 1 })
    await persistEvent(s, 'build.finished', { n: 1 })
    publishRaw(s.hub, 'metric', { v: 1 })
    await persistEvent(s, 'build.updated', { n: 2 })
    await until(() => c.events().length === 3, 'build events')
    expect(
      c
        .events()
        .slice(1)
        .map((m) => m.type)
    ).toEqual(['build.finished', 'build.updated'])
  })

  it('cuts off a stalled WebSocket client with 1013 while the others keep receiving', async () => {
    const s = await server({ LIVE_CLIENT_BUFFER_BYTES: '65536' })
    const healthy = new WsTestClient(wsUrl(s))
    cleanups.push(() => healthy.close())
    await until(() => healthy.events().length, 'snapshot')

    // A raw socket that completes the handshake and then never reads again.
    const sock = net.connect(s.port, '127.0.0.1')
    cleanups.push(() => sock.destroy())
    const key = randomBytes(16).toString('base64')
    sock.write(
      `GET /live HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`
    )
    await new Promise<void>((r) => sock.once('data', () => r()))
    sock.pause()
    await until(() => s.hub.clientCount === 2, 'stalled client registered')

    const big = 'x'.repeat(16 * 1024)
    // Small bursts, so the healthy client (same process) can keep up while the stalled one can't.
    for (let i = 0; i < 3000 && s.hub.clientCount === 2; i++) {
      publishRaw(s.hub, 'metric', { i, big })
      if (i % 2 === 0) await new Promise((r) => setTimeout(r, 1))
    }
    await until(() => s.hub.clientCount === 1, 'stalled client dropped')
    expect(await (await fetch(`${s.url}/metrics`)).text()).toContain(
      'radiator_live_cutoffs_total{transport="ws",reason="slow"} 1\n'
    )
    publishRaw(s.hub, 'metric', { after: true })
    await until(() => healthy.events().some((m) => m.data?.after), 'healthy client still receiving')

    // When the stalled peer finally reads, the last thing it finds is a close frame with 1013.
    const chunks: Buffer[] = []
    sock.on('data', (d: Buffer) => chunks.push(d))
    sock.resume()
    await until(
      () => {
        const all = Buffer.concat(chunks)
        const i = all.lastIndexOf(Buffer.from([0x88, 0x11]))
        return i !== -1 && all.readUInt16BE(i + 2) === 1013
      },
      'close frame 1013',
      10_000
    )
    expect(healthy.closeCode).toBeNull()
  })

  it('cuts off a stalled SSE client, counted as slow, while the others keep receiving every event', async () => {
    const s = await server({ LIVE_CLIENT_BUFFER_BYTES: '65536' })
    const healthy = new SseTestClient(`${s.url}/live/sse`)
    cleanups.push(() => healthy.close())
    await until(() => healthy.events().length, 'snapshot')

    // A raw socket that reads the headers and then never reads again.
    const sock = net.connect(s.port, '127.0.0.1')
    cleanups.push(() => sock.destroy())
    sock.write('GET /live/sse HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n')
    await new Promise<void>((r) => sock.once('data', () => r()))
    sock.pause()
    await until(() => s.hub.clientCount === 2, 'stalled client registered')

    const big = 'x'.repeat(16 * 1024)
    let sent = 0
    for (; sent < 3000 && s.hub.clientCount === 2; sent++) {
      publishRaw(s.hub, 'metric', { i: sent, big })
      if (sent % 2 === 0) await new Promise((r) => setTimeout(r, 1))
    }
    await until(() => s.hub.clientCount === 1, 'stalled client dropped')
    expect(await (await fetch(`${s.url}/metrics`)).text()).toContain(
      'radiator_live_cutoffs_total{transport="sse",reason="slow"} 1\n'
    )
    publishRaw(s.hub, 'metric', { after: true })
    await until(() => healthy.events().some((m) => m.data?.after), 'healthy client still receiving')
    const got = healthy.events().filter((m) => m.type === 'metric')
    const is = got.map((m) => m.data.i)
    if (TEST_ENGINE === 'sqlite') expect(is).toEqual([...Array.from({ length: sent }, (_, i) => i), undefined])
    // In a cluster transient events reach the stream at most once (core NATS to the leader's relay):
    // what arrives is in order, once each.
    else {
      expect(is).toEqual([...is.slice(0, -1).sort((x, y) => x - y), undefined])
      expect(new Set(is).size).toBe(is.length)
    }
  })

  it('refuses clients beyond LIVE_MAX_CLIENTS with 503', async () => {
    const s = await server({ LIVE_MAX_CLIENTS: '1' })
    const a = new SseTestClient(`${s.url}/live/sse`)
    cleanups.push(() => a.close())
    await until(() => a.events().length, 'first client')
    const res = await fetch(`${s.url}/live/poll`)
    expect(res.status).toBe(503)
    expect((await res.json()).message).toMatch(/LIVE_MAX_CLIENTS/)
  })

  it('rejects a malformed resume id with 400', async () => {
    const s = await server()
    const res = await fetch(`${s.url}/live/poll?since=abc`)
    expect(res.status).toBe(400)
    expect((await res.json()).code).toBe('BAD_REQUEST')
  })

  it('holds an empty long poll until its timeout, then answers an empty list', async () => {
    const s = await server({ LIVE_POLL_TIMEOUT_MS: '300' })
    const res = await fetch(`${s.url}/live/poll?since=${s.hub.head}`)
    expect(await res.json()).toEqual({ events: [] })
  })

  it('answers held long polls with every header the app adds and the same body for each', async () => {
    const s = await server()
    const fresh = await fetch(`${s.url}/live/poll`, { headers: { 'accept-encoding': 'identity' } })
    await fresh.arrayBuffer()
    const since = s.hub.head
    const held = [0, 1].map(() => fetch(`${s.url}/live/poll?since=${since}`))
    await until(() => s.hub.clientCount === 2, 'both polls held')
    const ev = await persistEvent(s, 'build.finished', { n: 1 })
    const answers = await Promise.all(held)
    const bodies = await Promise.all(answers.map((r) => r.text()))
    expect(bodies[0]).toBe(bodies[1])
    expect(JSON.parse(bodies[0]!).events.map((e: LiveMessage) => `${e.id}:${e.type}`)).toEqual([
      `${ev.id}:build.finished`,
    ])
    const names = (r: Response) => [...r.headers.keys()].filter((k) => k !== 'date' && k !== 'content-length').sort()
    for (const r of answers) {
      expect(names(r)).toEqual(names(fresh))
      expect(names(r)).toEqual(POLL_HEADERS)
      expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8')
      expect(r.headers.get('cache-control')).toBe('no-store')
      expect(r.headers.get('content-security-policy')).toBe(fresh.headers.get('content-security-policy'))
      expect(r.headers.get('x-content-type-options')).toBe('nosniff')
    }
    expect(Number(answers[0]!.headers.get('content-length'))).toBe(Buffer.byteLength(bodies[0]!))
  })

  it('lets go of a held long poll as soon as its client goes away', async () => {
    const s = await server({ LIVE_POLL_TIMEOUT_MS: '60000' })
    const gone = new AbortController()
    const res = fetch(`${s.url}/live/poll?since=${s.hub.head}`, { signal: gone.signal }).catch(() => null)
    await until(() => s.hub.clientCount === 1, 'poll held')
    gone.abort()
    await res
    // Long before the poll's own timeout: the hub no longer counts or fans out to it.
    await until(() => s.hub.clientCount === 0, 'held poll released', 3000)
  })

  it('sends heartbeats on WebSocket and SSE', async () => {
    const s = await server({ LIVE_HEARTBEAT_MS: '1000' })
    const ws = new WsTestClient(wsUrl(s))
    const sse = new SseTestClient(`${s.url}/live/sse`)
    cleanups.push(
      () => ws.close(),
      () => sse.close()
    )
    await until(
      () => ws.messages.some((m) => m.type === 'heartbeat') && sse.messages.some((m) => m.type === 'heartbeat'),
      'heartbeats',
      5000
    )
    const res = await fetch(`${s.url}/live/sse`, { signal: AbortSignal.timeout(500) }).catch(() => null)
    expect(res?.headers.get('x-accel-buffering')).toBe('no')
  })
})
