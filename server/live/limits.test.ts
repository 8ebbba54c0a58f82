/**
 * The live channel's limits and resume rules, on a real server with real clients: the resume point
 * a reconnecting EventSource sends wins, a snapshot or replay bigger than a client's buffer still
 * arrives, a far resume is answered a page at a time, and connection caps are answered in a way
 * each transport's standard client retries.
 */
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import {
  PollTestClient,
  SseTestClient,
  WsTestClient,
  perTest,
  persistEvent,
  tempDir,
  until,
  type LiveMessage,
  type TestServer,
} from '../test/harness.ts'
import { REPLAY_PAGE_BYTES, REPLAY_PAGE_EVENTS } from './replay.ts'

const t = perTest({ LIVE_POLL_TIMEOUT_MS: '1000' })
const server = t.server

const wsUrl = (s: TestServer, q = '') => `${s.url.replace('http', 'ws')}/live${q}`
const ids = (ms: LiveMessage[]) => ms.filter((m) => m.type !== 'snapshot' && m.type !== 'heartbeat').map((m) => m.id!)
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

async function persistMany(s: TestServer, n: number, data: (i: number) => unknown = (i) => ({ i })) {
  // In batches, as a burst of webhooks would be committed.
  for (let i = 0; i < n; i += 100)
    await Promise.all(range(i, Math.min(n, i + 100) - 1).map((j) => persistEvent(s, 'build.finished', data(j))))
}

describe('resume position', () => {
  it('takes the newer of ?since= and Last-Event-ID on SSE and long polling', async () => {
    const s = await server()
    await persistMany(s, 20)
    const head = s.hub.head
    // What a standard EventSource sends when it reconnects to the URL it was opened with.
    const sse = new SseTestClient(`${s.url}/live/sse?since=${head - 20}`, { 'last-event-id': String(head - 5) })
    t.cleanup(() => sse.close())
    await until(() => ids(sse.messages).length >= 5, 'replay')
    expect(ids(sse.messages)).toEqual(range(head - 4, head))

    // A stale header with a newer query: the query is newer, so it wins.
    const res = await fetch(`${s.url}/live/poll?since=${head - 2}`, { headers: { 'last-event-id': String(head - 10) } })
    expect(ids((await res.json()).events)).toEqual(range(head - 1, head))
  })

  it('rejects a malformed Last-Event-ID with 400 naming it', async () => {
    const s = await server()
    const res = await fetch(`${s.url}/live/poll`, { headers: { 'last-event-id': '-1' } })
    expect(res.status).toBe(400)
    expect((await res.json()).message).toMatch(/Last-Event-ID/)
  })
})

describe('catch-up bigger than the client buffer', () => {
  it('delivers a snapshot and replay larger than LIVE_CLIENT_BUFFER_BYTES, then the live stream', async () => {
    const s = await server({ LIVE_CLIENT_BUFFER_BYTES: '16384' })
    // A board big enough that its snapshot alone is far over the buffer (as 1,000 pipelines are).
    ;(s.hub as unknown as { addSnapshot(n: string, p: () => unknown): void }).addSnapshot('board', () => ({
      tiles: Array.from({ length: 400 }, (_, i) => ({ i, name: `pipeline-${i}`.padEnd(200, '.') })),
    }))
    const start = s.hub.head
    await persistMany(s, 300, (i) => ({ i, pad: 'p'.repeat(2000) }))
    // A fresh screen gets the whole board, far over its buffer, before anything else.
    const fresh = new WsTestClient(wsUrl(s))
    const freshSse = new SseTestClient(`${s.url}/live/sse`)
    t.cleanup(
      () => fresh.close(),
      () => freshSse.close()
    )
    for (const c of [fresh, freshSse]) {
      await until(() => c.messages[0], 'the fresh snapshot')
      expect(c.messages[0]!.data.board.tiles).toHaveLength(400)
    }
    // Resuming screens have the board already and get the replay, also far over the buffer.
    const ws = new WsTestClient(wsUrl(s, `?since=${start}`))
    const sse = new SseTestClient(`${s.url}/live/sse?since=${start}`)
    t.cleanup(
      () => ws.close(),
      () => sse.close()
    )
    // Live events keep coming while they catch up, as they do on a busy board: they are sent once
    // a client reaches the head, while its last catch-up bytes may still be queued.
    let live = 0
    for (; live < 60 && [ws, sse].some((c) => ids(c.messages).length < 300 + live); live++) {
      await persistEvent(s, 'build.finished', { live })
      await new Promise((r) => setTimeout(r, 5))
    }
    for (const c of [ws, sse])
      await until(() => ids(c.messages).length === 300 + live, 'the whole replay and the live events', 20_000)
    await persistEvent(s, 'build.finished', { after: true })
    for (const c of [ws, sse]) {
      await until(() => ids(c.messages).length === 301 + live, 'the live event after the replay')
      expect(c.messages[0]!.type).toBe('snapshot')
      expect(c.messages[0]!.data).toMatchObject({ resumed: true, reset: false })
      expect(c.messages[0]!.data.board).toBeUndefined()
      expect(ids(c.messages)).toEqual(range(start + 1, s.hub.head))
    }
    expect(ws.closeCode).toBeNull()
    for (const c of [fresh, freshSse])
      await until(() => ids(c.messages).length === live + 1, 'the fresh screens get the live events too')
  })
})

describe('replay in pages', () => {
  it('answers a long poll from far back with one bounded page, and the client continues to the head without gaps or duplicates', async () => {
    const s = await server()
    await persistMany(s, 1200, (i) => ({ i, pad: 'q'.repeat(600) }))
    const res = await fetch(`${s.url}/live/poll?since=0`)
    const body = await res.text()
    const first = JSON.parse(body).events as LiveMessage[]
    expect(first.length).toBeLessThanOrEqual(REPLAY_PAGE_EVENTS)
    expect(Buffer.byteLength(body)).toBeLessThan(REPLAY_PAGE_BYTES + 4096)

    const poll = new PollTestClient(s.url, 0)
    t.cleanup(() => poll.close())
    await until(() => poll.lastId === s.hub.head, 'poll client at the head', 20_000)
    expect(ids(poll.messages)).toEqual(range(1, s.hub.head))
  })

  it('resumes from SQLite after a restart, page by page, on every transport', async () => {
    const dir = tempDir()
    let s = await server({}, dir)
    await persistMany(s, 1500)
    const head = s.hub.head
    await t.stop(s)
    s = await server({}, dir)
    const ws = new WsTestClient(wsUrl(s, '?since=1'))
    const sse = new SseTestClient(`${s.url}/live/sse?since=1`)
    const poll = new PollTestClient(s.url, 1)
    t.cleanup(
      () => ws.close(),
      () => sse.close(),
      () => poll.close()
    )
    for (const c of [ws, sse, poll]) await until(() => ids(c.messages).length === head - 1, 'replay from disk', 20_000)
    // The server still answers other requests while they catch up, and new events follow in order.
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200)
    await persistEvent(s, 'build.finished', { after: true })
    for (const c of [ws, sse, poll]) {
      await until(() => ids(c.messages).length === head, 'the live event')
      // Ids continue above the block reserved before the restart: increasing, not contiguous.
      expect(ids(c.messages)).toEqual([...range(2, head), s.hub.head])
    }
  })
})

describe('connection caps', () => {
  it('caps connections per client address, answering each transport so its standard client retries', async () => {
    const s = await server({ LIVE_MAX_CLIENTS_PER_ADDRESS: '2' })
    const a = new SseTestClient(`${s.url}/live/sse`)
    const b = new WsTestClient(wsUrl(s))
    t.cleanup(
      () => a.close(),
      () => b.close()
    )
    await until(() => a.events().length && b.events().length, 'two clients')

    // EventSource gives up for good on any status but 200: a busy server says when to come back.
    const sse = await fetch(`${s.url}/live/sse`)
    expect(sse.status).toBe(200)
    expect(sse.headers.get('content-type')).toMatch(/^text\/event-stream/)
    const text = await sse.text() // ends: the stream is closed at once
    expect(text).toMatch(/^retry: \d+$/m)
    expect(text).toMatch(/^event: unavailable$/m)
    expect(text).toMatch(/LIVE_MAX_CLIENTS_PER_ADDRESS/)

    const poll = await fetch(`${s.url}/live/poll`)
    expect(poll.status).toBe(503)
    expect(Number(poll.headers.get('retry-after'))).toBeGreaterThan(0)

    const refused = await new Promise<{ status: number; retry: string | undefined }>((resolve) => {
      const ws = new WebSocket(wsUrl(s))
      ws.on('unexpected-response', (_req, res) =>
        resolve({ status: res.statusCode!, retry: res.headers['retry-after'] })
      )
      ws.on('open', () => resolve({ status: 101, retry: undefined }))
      ws.on('error', () => {})
    })
    expect(refused.status).toBe(503)
    expect(Number(refused.retry)).toBeGreaterThan(0)

    // A freed slot is usable again: the cap counts open connections, not connections ever made.
    b.close()
    await until(
      async () => (await fetch(`${s.url}/live/poll?since=${s.hub.head}&snapshot=1`)).status === 200,
      'slot freed'
    )
  })

  it('answers SSE at LIVE_MAX_CLIENTS with 200 and retry, not a fatal 503', async () => {
    const s = await server({ LIVE_MAX_CLIENTS: '1' })
    const a = new WsTestClient(wsUrl(s))
    t.cleanup(() => a.close())
    await until(() => a.events().length, 'first client')
    const res = await fetch(`${s.url}/live/sse`)
    expect(res.status).toBe(200)
    expect(await res.text()).toMatch(/LIVE_MAX_CLIENTS=1/)
  })
})
