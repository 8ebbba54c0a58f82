/**
 * GET /live/poll is answered on Node's own request (poll-node.ts), not by the Hono route: these
 * tests hold it to what the Hono route answered — the same credentials, refusals, headers, resume
 * and limits — against real servers and real HTTP clients.
 */
import { createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, expect, it } from 'vitest'
import { AccessControl } from '../access/guard.ts'
import { configFrom } from '../config.ts'
import { withNodeRoutes } from '../http/node-routes.ts'
import { createLogger } from '../log.ts'
import { Telemetry } from '../observability/telemetry.ts'
import { perTest, persistEvent, startTestServer, TEST_ADMIN_TOKEN, type TestServer, until } from '../test/harness.ts'
import { POLL_PATH, pollNodeRoutes } from './poll-node.ts'

const t = perTest()
const PUSH = 'poll-push-secret'
const closed = () => t.server({ PUBLIC_DASHBOARD: 'false', METRICS_TOKEN: PUSH, LIVE_POLL_TIMEOUT_MS: '300' })

interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

/** A request as it goes over the wire (HEAD included), the body undecoded. */
function send(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') })
      )
    })
    req.on('error', reject)
    req.end()
  })
}

/** Headers to compare between two answers: what differs per request or per body left out. */
const lasting = (a: Answer, drop: string[] = []) =>
  Object.fromEntries(
    Object.entries(a.headers).filter(([k]) => !['date', 'content-length', 'x-request-id', ...drop].includes(k))
  )
const withoutId = (body: string) => {
  const { requestId, ...rest } = JSON.parse(body) as { requestId?: string }
  expect(requestId).toEqual(expect.any(String))
  return rest
}
const ids = (a: Answer) => (JSON.parse(a.body) as { events: { id?: number; type: string }[] }).events.map((e) => e.id)

/**
 * The poll's node route alone on a server of its own, built from a running Radiator's parts; every
 * other request is counted and refused, so an answer from Hono would show.
 */
async function nodeOnly(s: TestServer, env: Record<string, string>) {
  const config = configFrom({
    PORT: '0',
    HOST: '127.0.0.1',
    ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    ...env,
    DATA_DIR: s.dataDir,
  })
  const routes = await pollNodeRoutes({
    hub: s.hub,
    config,
    log: createLogger('silent'),
    telemetry: new Telemetry({ version: 'test', writer: s.engine.writer, hub: s.hub }),
    access: new AccessControl(config, s.credentials),
  })
  let elsewhere = 0
  const server: Server = createServer(
    withNodeRoutes(routes, (_req, res) => {
      elsewhere++
      res.writeHead(500).end()
    })
  )
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.cleanup(() => {
    server.closeAllConnections()
    server.close()
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, elsewhere: () => elsewhere }
}

describe('GET /live/poll on Node’s own request', () => {
  it('answers every kind of poll itself: a fresh one, a resume, a held one, a bad id, a refusal', async () => {
    const s = await t.server({ PUBLIC_DASHBOARD: 'false', LIVE_POLL_TIMEOUT_MS: '5000' })
    const n = await nodeOnly(s, { PUBLIC_DASHBOARD: 'false', LIVE_POLL_TIMEOUT_MS: '5000' })
    const auth = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }
    const a = await persistEvent(s, 'build.finished', { n: 1 })

    const fresh = await send(`${n.url}${POLL_PATH}`, auth)
    expect(fresh.status).toBe(200)
    expect(JSON.parse(fresh.body).events[0].type).toBe('snapshot')
    expect(ids(await send(`${n.url}${POLL_PATH}?since=${a.id - 1}`, auth))).toEqual([a.id])
    const held = send(`${n.url}${POLL_PATH}?since=${a.id}`, auth)
    await until(() => s.hub.clientCount === 1, 'poll held')
    const b = await persistEvent(s, 'build.finished', { n: 2 })
    expect(ids(await held)).toEqual([b.id])
    expect((await send(`${n.url}${POLL_PATH}?since=x`, auth)).status).toBe(400)
    expect((await send(`${n.url}${POLL_PATH}`)).status).toBe(401)
    expect(n.elsewhere()).toBe(0)
  })

  it('refuses a missing, wrong or insufficient credential exactly as the Hono guard refuses it', async () => {
    const s = await closed()
    const cases: [Record<string, string>, number][] = [
      [{}, 401],
      [{ authorization: 'Bearer not-a-token' }, 401],
      [{ authorization: `Basic ${Buffer.from('x:wrong').toString('base64')}` }, 401],
      [{ cookie: 'radiator_session=not-a-session' }, 401],
      [{ authorization: `Bearer ${PUSH}` }, 403],
    ]
    for (const [headers, status] of cases) {
      const poll = await send(`${s.url}${POLL_PATH}`, headers)
      const hono = await send(`${s.url}/api/builds`, headers)
      const what = JSON.stringify(headers)
      expect(poll.status, what).toBe(status)
      expect(hono.status, what).toBe(status)
      expect(withoutId(poll.body), what).toEqual(withoutId(hono.body))
      expect(lasting(poll), what).toEqual(lasting(hono))
      expect(poll.headers['www-authenticate'], what).toBe('Bearer realm="Radiator"')
      expect(poll.headers['x-request-id'], what).toBe(JSON.parse(poll.body).requestId)
    }
    // A proxy's request id is kept, as on every route.
    const tagged = await send(`${s.url}${POLL_PATH}`, { 'x-request-id': 'edge-42' })
    expect(tagged.headers['x-request-id']).toBe('edge-42')
    expect(JSON.parse(tagged.body).requestId).toBe('edge-42')
  })

  it('lets in an API token, ADMIN_TOKEN, a browser session and a paired screen’s session', async () => {
    const s = await closed()
    const token = await s.credentials.createToken('wall', 'viewer')
    const browser = await s.credentials.createSession({ kind: 'browser', role: 'viewer', subject: 'ana' })
    const screen = await s.credentials.createSession({ kind: 'screen', role: 'viewer', subject: 'lobby' })
    const credentials: Record<string, string>[] = [
      { authorization: `Bearer ${token.secret}` },
      { authorization: `Basic ${Buffer.from(`cctray:${token.secret}`).toString('base64')}` },
      { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      { cookie: `theme=dark; radiator_session=${browser.secret}` },
      { cookie: `radiator_session=${screen.secret}` },
    ]
    for (const headers of credentials) {
      const res = await send(`${s.url}${POLL_PATH}`, headers)
      expect(res.status, JSON.stringify(headers)).toBe(200)
      expect(JSON.parse(res.body).events[0].type).toBe('snapshot')
    }
    // A revoked session is refused at once.
    await s.credentials.revokeSession(screen.id)
    expect((await send(`${s.url}${POLL_PATH}`, { cookie: `radiator_session=${screen.secret}` })).status).toBe(401)
  })

  it('counts failed credentials with every other route: the 31st from one address gets 429', async () => {
    const s = await closed()
    const bad = { authorization: 'Bearer guessed' }
    for (let i = 0; i < 15; i++) {
      expect((await send(`${s.url}/api/builds`, bad)).status).toBe(401)
      expect((await send(`${s.url}${POLL_PATH}`, bad)).status).toBe(401)
    }
    const poll = await send(`${s.url}${POLL_PATH}`, bad)
    expect(poll.status).toBe(429)
    expect(withoutId(poll.body)).toEqual(withoutId((await send(`${s.url}/api/builds`, bad)).body))
  })

  it('answers with the headers the Hono route answers the same poll with', async () => {
    const s = await t.server({ LIVE_POLL_TIMEOUT_MS: '300' })
    await persistEvent(s, 'build.finished', { n: 1 })
    // HEAD is not a node route: Hono runs the same poll and sends its headers without the body.
    for (const q of ['', '?since=0', `?since=${s.hub.head}`, '?since=nope']) {
      for (const headers of [{}, { 'accept-encoding': 'gzip' }] as Record<string, string>[]) {
        const get = await send(`${s.url}${POLL_PATH}${q}`, headers)
        const head = await send(`${s.url}${POLL_PATH}${q}`, headers, 'HEAD')
        expect(get.status, q).toBe(head.status)
        expect(lasting(get), q).toEqual(lasting(head))
        expect(Number(get.headers['content-length']), q).toBe(Buffer.byteLength(get.body))
      }
    }
  })

  it('resumes exactly after since=, a page at a time, and holds at the head until the next event', async () => {
    const s = await t.server({ LIVE_POLL_TIMEOUT_MS: '5000' })
    const sent = []
    for (let i = 0; i < 6; i++) sent.push((await persistEvent(s, 'build.finished', { i })).id)
    expect(ids(await send(`${s.url}${POLL_PATH}?since=${sent[1]}`))).toEqual(sent.slice(2))
    // Last-Event-ID and since: the newer wins.
    expect(ids(await send(`${s.url}${POLL_PATH}?since=${sent[0]}`, { 'last-event-id': String(sent[3]) }))).toEqual(
      sent.slice(4)
    )
    const held = send(`${s.url}${POLL_PATH}?since=${sent[5]}`)
    await until(() => s.hub.clientCount === 1, 'poll held')
    const next = await persistEvent(s, 'build.finished', { i: 6 })
    expect(ids(await held)).toEqual([next.id])
  })

  it('holds at most LIVE_MAX_CLIENTS_PER_ADDRESS polls from one address and admits again once one is answered', async () => {
    const s = await t.server({ LIVE_MAX_CLIENTS_PER_ADDRESS: '2', LIVE_POLL_TIMEOUT_MS: '5000' })
    const since = s.hub.head
    const held = [send(`${s.url}${POLL_PATH}?since=${since}`), send(`${s.url}${POLL_PATH}?since=${since}`)]
    await until(() => s.hub.clientCount === 2, 'two polls held')
    const third = await send(`${s.url}${POLL_PATH}?since=${since}`)
    expect(third.status).toBe(503)
    expect(third.headers['retry-after']).toBe('5')
    expect(withoutId(third.body)).toEqual({
      code: 'UNAVAILABLE',
      message: 'too many live clients from one address (LIVE_MAX_CLIENTS_PER_ADDRESS=2)',
    })
    const ev = await persistEvent(s, 'build.finished', { n: 1 })
    for (const a of await Promise.all(held)) expect(ids(a)).toEqual([ev.id])
    expect(ids(await send(`${s.url}${POLL_PATH}?since=${since}`))).toEqual([ev.id])
  })

  it('is counted in /metrics and logged by the same policy as every route', async () => {
    const lines: string[] = []
    const s = await startTestServer({ LOG_LEVEL: 'info' }, undefined, undefined, (l) => lines.push(l))
    t.cleanup(() => void s.destroy())
    expect((await send(`${s.url}${POLL_PATH}`)).status).toBe(200)
    expect((await send(`${s.url}${POLL_PATH}?since=-1`, { 'x-request-id': 'probe-7' })).status).toBe(400)
    const metrics = (await send(`${s.url}/metrics`)).body
    expect(metrics).toContain('radiator_http_requests_total{method="GET",route="/live/poll",status="200"} 1')
    expect(metrics).toContain('radiator_http_requests_total{method="GET",route="/live/poll",status="400"} 1')
    const requests = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request' && l.route === POLL_PATH)
    expect(requests).toEqual([
      expect.objectContaining({ level: 'info', method: 'GET', status: 200, outcome: 'ok' }),
      expect.objectContaining({ level: 'warn', status: 400, outcome: 'client_error', requestId: 'probe-7' }),
    ])
    expect(requests[0].durationMs).toEqual(expect.any(Number))
  })
})
