/**
 * Requests at the edge of HTTP, on raw sockets against a real server: upgrades nobody takes,
 * bodies over the limit, clients that leave mid-body. Every request gets an answer or a close,
 * and nothing is left open afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect } from 'node:net'
import { startTestServer, type TestServer } from './harness.ts'

interface RawAnswer {
  status: number
  headers: Record<string, string>
  body: string
  /** The server sent its FIN (ended the connection). */
  endedByServer: boolean
  /** A socket error seen before any answer arrived (ECONNRESET, EPIPE). */
  errorBeforeAnswer?: string
}

/**
 * Sends `head` then `pieces` one write at a time, not reading meanwhile (like a client that reads
 * only once it has sent its request: unread answers are lost if the server resets), then reads
 * the answer until the server closes. Gives up after `ms`, as an unanswered request.
 */
function exchange(port: number, head: string, pieces: Buffer[] = [], ms = 10_000): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    let got = Buffer.alloc(0)
    let endedByServer = false
    let errorBeforeAnswer: string | undefined
    socket.pause()
    socket.on('data', (d) => (got = Buffer.concat([got, d])))
    socket.on('error', (e) => (errorBeforeAnswer ??= got.length === 0 ? (e as NodeJS.ErrnoException).code : undefined))
    socket.on('end', () => {
      endedByServer = true
      socket.end()
    })
    const giveUp = setTimeout(() => socket.destroy(), ms)
    socket.on('close', () => {
      clearTimeout(giveUp)
      const text = got.toString('latin1')
      const split = text.indexOf('\r\n\r\n')
      const lines = text.slice(0, split < 0 ? text.length : split).split('\r\n')
      const headers: Record<string, string> = {}
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':')
        if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim()
      }
      resolve({
        status: Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0),
        headers,
        body: split < 0 ? '' : text.slice(split + 4),
        endedByServer,
        errorBeforeAnswer,
      })
    })
    socket.write(head)
    let i = 0
    const next = () => {
      if (socket.destroyed) return
      if (i === pieces.length) return void socket.resume()
      socket.write(pieces[i++]!, (err) => (err ? socket.resume() : setImmediate(next)))
    }
    next()
  })
}

async function settles<T>(read: () => Promise<T>, pred: (v: T) => boolean, what: string, ms = 10_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await read()
    if (pred(v)) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(v)})`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

const WS_HEADERS = 'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
const upgrade = (method: string, path: string, protocol: string, extra = '') =>
  `${method} ${path} HTTP/1.1\r\nHost: radiator\r\nConnection: Upgrade\r\nUpgrade: ${protocol}\r\n${extra}\r\n`

/** null: any 4xx (which one is the route's business: its access check, its own validation). */
const UPGRADES: [name: string, request: string, status: number | null][] = [
  ['an h2c upgrade', upgrade('GET', '/', 'h2c', 'HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n'), 400],
  ['Upgrade: foo on /', upgrade('GET', '/', 'foo'), 400],
  ['Upgrade: foo on /api/builds', upgrade('GET', '/api/builds', 'foo'), 400],
  [
    'Upgrade: foo on a webhook, with a body',
    `${upgrade('POST', '/hooks/github', 'foo', 'Content-Length: 2\r\n')}{}`,
    400,
  ],
  ['a WebSocket upgrade to /nope', upgrade('GET', '/nope', 'websocket', WS_HEADERS), 404],
  ['a WebSocket upgrade to /live with a bad since', upgrade('GET', '/live?since=abc', 'websocket', WS_HEADERS), null],
]

describe('upgrade requests the WebSocket route does not take', () => {
  let s: TestServer
  beforeAll(async () => {
    s = await startTestServer()
  })
  afterAll(() => s.destroy())

  for (const [name, request, status] of UPGRADES) {
    it(`answers ${name} with ${status ?? 'a 4xx'} and closes the connection`, async () => {
      const a = await exchange(s.port, request)
      if (status === null) expect(a.status).toBeGreaterThanOrEqual(400)
      expect(a.status).toBe(status ?? Math.min(a.status, 499))
      expect(a.endedByServer).toBe(true)
      if (a.body) expect(JSON.parse(a.body).message).toEqual(expect.any(String))
    })
  }

  it('answers Upgrade: websocket without Connection: Upgrade on /live with 400, not 500', async () => {
    const a = await exchange(
      s.port,
      `GET /live HTTP/1.1\r\nHost: radiator\r\nUpgrade: websocket\r\n${WS_HEADERS}Connection: close\r\n\r\n`
    )
    expect(a.status).toBe(400)
    expect(JSON.parse(a.body).message).toMatch(/Connection: Upgrade/)
  })

  it('leaves no connection open after 200 of them', async () => {
    for (let round = 0; round < 4; round++) {
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, i) => exchange(s.port, UPGRADES[i % UPGRADES.length]![1], [], 5000))
      )
      expect(answers.every((a) => a.status >= 400 && a.status < 500 && a.endedByServer)).toBe(true)
    }
    await settles(
      () => s.connections(),
      (n) => n === 0,
      'every connection closed'
    )
    const health = await fetch(`${s.url}/healthz`)
    expect(health.status).toBe(200)
  })
})

const LIMITS: [path: string, limit: number, headers: string][] = [
  ['/hooks/github', 5 * 1024 * 1024, 'X-GitHub-Event: push\r\n'],
  ['/api/collect', 16 * 1024, 'Origin: https://shop.example.com\r\n'],
  ['/api/metrics', 64 * 1024, 'Authorization: Bearer edge-token\r\n'],
]

function pieces(total: number, size = 64 * 1024): Buffer[] {
  const out: Buffer[] = []
  for (let left = total; left > 0; left -= size) out.push(Buffer.alloc(Math.min(size, left), 'x'))
  return out
}

const chunked = (parts: Buffer[]) => [
  ...parts.map((p) => Buffer.concat([Buffer.from(`${p.length.toString(16)}\r\n`), p, Buffer.from('\r\n')])),
  Buffer.from('0\r\n\r\n'),
]

describe('bodies over the limit', () => {
  let s: TestServer
  const logLines: string[] = []
  beforeAll(async () => {
    s = await startTestServer(
      { SITES: 'shop.example.com', METRICS_TOKEN: 'edge-token', LOG_LEVEL: 'debug' },
      undefined,
      undefined,
      (l) => logLines.push(l)
    )
  })
  afterAll(() => s.destroy())

  for (const [path, limit, extra] of LIMITS) {
    const body = pieces(limit + 256 * 1024)
    const size = body.reduce((n, b) => n + b.length, 0)

    it(`answers ${path} 413 with Connection: close to a client sending a declared length in pieces`, async () => {
      const head = `POST ${path} HTTP/1.1\r\nHost: radiator\r\n${extra}Content-Type: application/json\r\nContent-Length: ${size}\r\n\r\n`
      const a = await exchange(s.port, head, body)
      expect(a.errorBeforeAnswer).toBeUndefined()
      expect(a.status).toBe(413)
      expect(a.headers.connection).toBe('close')
      expect(JSON.parse(a.body.replace(/^[0-9a-f]+\r\n|\r\n0\r\n\r\n$/g, '')).code).toBe('PAYLOAD_TOO_LARGE')
    })

    it(`answers ${path} 413 to a chunked body sent in pieces`, async () => {
      const head = `POST ${path} HTTP/1.1\r\nHost: radiator\r\n${extra}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`
      const a = await exchange(s.port, head, chunked(body))
      expect(a.errorBeforeAnswer).toBeUndefined()
      expect(a.status).toBe(413)
      expect(a.headers.connection).toBe('close')
    })
  }

  it('leaves no connection open once the clients are done', async () => {
    await settles(
      () => s.connections(),
      (n) => n === 0,
      'every connection closed'
    )
  })

  it('takes a client leaving mid-body quietly: debug lines only, and keeps answering', async () => {
    logLines.length = 0
    for (const [path, , extra] of LIMITS) {
      await new Promise<void>((resolve) => {
        const socket = connect(s.port, '127.0.0.1', () => {
          socket.write(
            `POST ${path} HTTP/1.1\r\nHost: radiator\r\n${extra}Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"a":`
          )
          setTimeout(() => socket.destroy(), 50)
        })
        socket.on('close', () => resolve())
      })
    }
    await settles(
      async () => logLines.filter((l) => l.includes('client went away')).length,
      (n) => n === LIMITS.length,
      'a debug line per aborted request'
    )
    expect(logLines.filter((l) => /"level":"(error|warn)"/.test(l))).toEqual([])
    expect(logLines.filter((l) => l.includes('client went away')).every((l) => l.includes('"level":"debug"'))).toBe(
      true
    )
    const health = await fetch(`${s.url}/healthz`)
    expect(health.status).toBe(200)
  })
})
