/**
 * Radiator behind the real nginx and Caddy, configured from deploy/ (plain HTTP on loopback): live
 * transports, forwarded client addresses and body limits. Each property is also checked against a
 * deliberately broken config, to show the check would catch that mistake.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import WebSocket from 'ws'
import { SseTestClient, startTestServer, until, type LiveMessage, type TestServer } from './harness.ts'
import { configFrom } from '../config.ts'
import {
  CADDY,
  DEPLOY,
  NGINX,
  refuseUpgrades,
  startProxy,
  type ProxyKind,
  type ProxyOptions,
  type RunningProxy,
} from './proxies.ts'
import { BROWSER_UA, ORIGIN, SITE } from './metrics.ts'

const TOKEN = 'proxy-test-token'
const servers: TestServer[] = []
const proxies: RunningProxy[] = []
const cleanups: (() => void)[] = []
afterEach(async () => {
  cleanups.splice(0).forEach((f) => f())
  await Promise.all(proxies.splice(0).map((p) => p.stop()))
  await Promise.all(servers.splice(0).map((s) => s.destroy()))
})

async function radiator(env: Parameters<typeof startTestServer>[0] = {}) {
  const s = await startTestServer({
    GENERIC_WEBHOOK_TOKEN: TOKEN,
    TRUST_PROXY: 'true',
    SITES: SITE,
    LIVE_POLL_TIMEOUT_MS: '2000',
    ...env,
  })
  servers.push(s)
  return s
}

async function behind(kind: ProxyKind, s: TestServer, opts: ProxyOptions = {}) {
  const p = await startProxy(kind, s, opts)
  proxies.push(p)
  return p
}

function postBuild(base: string, project: string, body: object = {}) {
  return fetch(`${base}/hooks/generic`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ id: `${project}:1`, project, status: 'failure', ...body }),
  })
}

/** A WebSocket from a page of the proxy's origin (Radiator refuses cross-site upgrades). */
function openWs(
  p: RunningProxy,
  origin = p.url,
  headers: Record<string, string> = {}
): Promise<{ messages: LiveMessage[]; ws: WebSocket }> {
  const ws = new WebSocket(`${p.url.replace('http', 'ws')}/live`, { origin, headers })
  cleanups.push(() => ws.terminate())
  const messages: LiveMessage[] = []
  ws.on('message', (d) => messages.push(JSON.parse(String(d))))
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ messages, ws }))
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)))
    ws.once('error', reject)
  })
}

function sse(p: RunningProxy, headers: Record<string, string> = {}) {
  const c = new SseTestClient(`${p.url}/live/sse`, headers)
  cleanups.push(() => c.close())
  return c
}

/** Sends one beacon page view from loopback address `from`, with an X-Forwarded-For of the client's own making. */
function beaconFrom(p: RunningProxy, from: string, forwardedFor?: string): Promise<number> {
  const body = JSON.stringify({ site: SITE, width: 1280, events: [{ type: 'pageview', path: '/' }] })
  const headers: Record<string, string> = {
    'content-type': 'text/plain;charset=UTF-8',
    origin: ORIGIN,
    'user-agent': BROWSER_UA,
  }
  if (forwardedFor) headers['x-forwarded-for'] = forwardedFor
  return new Promise((resolve, reject) => {
    const req = request(
      `${p.url}/api/collect`,
      { method: 'POST', headers, localAddress: from, agent: false },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode!))
      }
    )
    req.once('error', reject)
    req.end(body)
  })
}

async function visitors(s: TestServer): Promise<number> {
  const body = (await (await fetch(`${s.url}/api/sites`)).json()) as { sites: { site: string; last5m: number }[] }
  return body.sites.find((x) => x.site === SITE)!.last5m
}

/**
 * Visitors Radiator counts for two people (127.0.0.2 and 127.0.0.3, the same browser), then for a
 * third (127.0.0.4) who sends two beacons, each claiming another address in X-Forwarded-For.
 */
async function countVisitors(p: RunningProxy, s: TestServer): Promise<{ twoPeople: number; plusOneSpoofing: number }> {
  expect(await beaconFrom(p, '127.0.0.2')).toBe(202)
  expect(await beaconFrom(p, '127.0.0.3')).toBe(202)
  const twoPeople = await visitors(s)
  expect(await beaconFrom(p, '127.0.0.4', '203.0.113.1')).toBe(202)
  expect(await beaconFrom(p, '127.0.0.4', '203.0.113.2')).toBe(202)
  return { twoPeople, plusOneSpoofing: await visitors(s) }
}

/** Whether a build posted after the SSE stream opened reaches it within a bounded wait. */
async function sseDelivers(
  p: RunningProxy,
  s: TestServer,
  waitMs = 3000,
  headers: Record<string, string> = {}
): Promise<boolean> {
  const c = sse(p, headers)
  // The snapshot may itself be held back by a buffering proxy: wait for the server to have the client.
  await until(() => s.hub.clientCount > 0, 'the SSE client to reach Radiator')
  expect((await postBuild(p.url, 'acme/sse')).status).toBe(200)
  try {
    await until(() => c.events().some((e) => e.type.startsWith('build.')), 'the build on the SSE stream', waitMs)
    return true
  } catch {
    return false
  }
}

/** The Content-Encoding of the event stream as it comes out of the proxy to a client that takes gzip. */
async function sseEncoding(p: RunningProxy): Promise<string | null> {
  const ctrl = new AbortController()
  const res = await fetch(`${p.url}/live/sse`, { headers: { 'accept-encoding': 'gzip' }, signal: ctrl.signal })
  ctrl.abort()
  return res.headers.get('content-encoding')
}

/** A chunk of JSON whitespace: a valid generic hook body of about `bytes`. */
const paddedBuild = (bytes: number) => `{"project": "acme/big", "status": "success"${' '.repeat(bytes)}}`

const suites: [ProxyKind, string | null][] = [
  ['nginx', NGINX],
  ['caddy', CADDY],
]

for (const [kind, bin] of suites) {
  const suite = bin ? describe : describe.skip
  suite(`Radiator behind ${kind} (deploy/${kind === 'nginx' ? 'nginx.conf' : 'Caddyfile'})`, () => {
    it('passes the WebSocket upgrade: a build posted through the proxy arrives on /live', async () => {
      const s = await radiator()
      const p = await behind(kind, s)
      const { messages } = await openWs(p)
      await until(() => messages.find((m) => m.type === 'snapshot'), 'the snapshot over WebSocket')
      expect((await postBuild(p.url, 'acme/ws')).status).toBe(200)
      const e = await until(() => messages.find((m) => m.type.startsWith('build.')), 'the build over WebSocket')
      expect(e.data.build.project).toBe('acme/ws')
    })

    it('sets X-Forwarded-Proto itself: a client claiming https over plain http is not believed', async () => {
      const s = await radiator()
      const p = await behind(kind, s)
      const https = p.url.replace('http:', 'https:')
      await expect(openWs(p, https, { 'x-forwarded-proto': 'https' })).rejects.toThrow(/upgrade refused: 403/)
    })

    it('streams Server-Sent Events unbuffered, gzipped by Radiator and not: a build arrives while the stream is open', async () => {
      // undici's fetch takes gzip, so the first stream is Radiator's compressed one, passed through as is.
      for (const headers of [{}, { 'accept-encoding': 'identity' }] as Record<string, string>[]) {
        const s = await radiator()
        const p = await behind(kind, s)
        expect(await sseEncoding(p)).toBe('gzip')
        expect(await sseDelivers(p, s, 10_000, headers)).toBe(true)
      }
    })

    it('holds a long poll for LIVE_POLL_TIMEOUT_MS and relays its empty answer', async () => {
      const s = await radiator()
      const p = await behind(kind, s)
      const res = await fetch(`${p.url}/live/poll?since=${s.hub.head}`)
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual({ events: [] })
    })

    it('counts visitors by the address the proxy saw, not by what the client put in X-Forwarded-For', async () => {
      const s = await radiator()
      const p = await behind(kind, s)
      expect(await countVisitors(p, s)).toEqual({ twoPeople: 2, plusOneSpoofing: 3 })
    })

    it('believes the forwarded address only with TRUST_PROXY: without it everyone is the proxy', async () => {
      const s = await radiator({ TRUST_PROXY: 'false' })
      const p = await behind(kind, s)
      expect(await countVisitors(p, s)).toEqual({ twoPeople: 1, plusOneSpoofing: 1 })
    })

    it("lets webhooks up to Radiator's 5 MB through, and Radiator's own 413 above it", async () => {
      const s = await radiator()
      const p = await behind(kind, s)
      const post = (body: string) =>
        fetch(`${p.url}/hooks/generic`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body,
        })
      const ok = await post(paddedBuild(4_900_000))
      expect(ok.status).toBe(200)
      const big = await post(paddedBuild(5_300_000))
      expect(big.status).toBe(413)
      expect(((await big.json()) as { code: string }).code).toBe('PAYLOAD_TOO_LARGE')
    })
  })
}

/** nginx with one of the deploy file's lines changed: what each check above would catch. */
describe.skipIf(!NGINX)('the checks fail against a broken nginx config', () => {
  const without = (line: RegExp) => (c: string) => {
    const out = c.replace(line, '')
    if (out === c) throw new Error(`no ${line} in deploy/nginx.conf`)
    return out
  }

  it('with upgrades refused the WebSocket is refused', async () => {
    const s = await radiator()
    const p = await behind('nginx', s, { mutate: refuseUpgrades('nginx') })
    await expect(openWs(p)).rejects.toThrow(/upgrade refused: 403/)
  })

  it('without the Upgrade/Connection headers the WebSocket is refused', async () => {
    const s = await radiator()
    const p = await behind('nginx', s, {
      mutate: (c) => without(/^.*proxy_set_header Connection .*\n/m)(without(/^.*proxy_set_header Upgrade .*\n/m)(c)),
    })
    await expect(openWs(p)).rejects.toThrow(/upgrade refused/)
  })

  it('with Host $host (no port) the browser-origin WebSocket is refused as cross-site', async () => {
    const s = await radiator()
    const p = await behind('nginx', s, {
      mutate: (c) => c.replace('proxy_set_header Host $http_host;', 'proxy_set_header Host $host;'),
    })
    await expect(openWs(p)).rejects.toThrow(/upgrade refused: 403/)
  })

  // nginx streams small chunks even with buffering on; what holds them is buffering together with a
  // filter that collects output, such as gzip for event streams. Radiator's X-Accel-Buffering: no
  // would turn buffering off by itself, so both cases ignore it: the config alone has to hold.
  const gzipEvents = 'gzip on; gzip_types text/event-stream; gzip_min_length 1; proxy_ignore_headers X-Accel-Buffering;'

  // Radiator compresses the stream itself when the client takes gzip, and nginx never compresses an
  // answer that is already encoded: its gzip collects the stream only when it does the compressing,
  // as when Accept-Encoding is not passed on to Radiator (a common recipe).
  const nginxCompresses = (c: string) =>
    c.replace(
      'proxy_set_header Host $http_host;',
      'proxy_set_header Host $http_host; proxy_set_header Accept-Encoding "";'
    )

  it('with proxy_buffering off, SSE streams even when gzip is on for event streams', async () => {
    const s = await radiator()
    const p = await behind('nginx', s, {
      mutate: (c) => nginxCompresses(c.replace('proxy_buffering off;', `proxy_buffering off; ${gzipEvents}`)),
    })
    expect(await sseDelivers(p, s)).toBe(true)
  })

  it('with proxy_buffering on and nginx gzipping event streams itself, the SSE stream is held back', async () => {
    const s = await radiator()
    const p = await behind('nginx', s, {
      mutate: (c) => nginxCompresses(c.replace('proxy_buffering off;', `proxy_buffering on; ${gzipEvents}`)),
    })
    expect(await sseDelivers(p, s)).toBe(false)
  })

  it("with proxy_buffering on and gzip on for event streams, Radiator's own gzipped SSE stream still arrives", async () => {
    const s = await radiator()
    const p = await behind('nginx', s, {
      mutate: (c) => c.replace('proxy_buffering off;', `proxy_buffering on; ${gzipEvents}`),
    })
    expect(await sseEncoding(p)).toBe('gzip')
    expect(await sseDelivers(p, s)).toBe(true)
  })

  it('with proxy_read_timeout below LIVE_POLL_TIMEOUT_MS the long poll ends in a 504', async () => {
    const s = await radiator()
    const p = await behind('nginx', s, {
      mutate: (c) => c.replace('proxy_read_timeout 3600s;', 'proxy_read_timeout 1s;'),
    })
    expect((await fetch(`${p.url}/live/poll?since=${s.hub.head}`)).status).toBe(504)
  })

  it("without proxy_set_header X-Forwarded-For two people are one, and the client's own header is believed", async () => {
    const s = await radiator()
    const p = await behind('nginx', s, { mutate: without(/^.*proxy_set_header X-Forwarded-For .*\n/m) })
    expect(await countVisitors(p, s)).toEqual({ twoPeople: 1, plusOneSpoofing: 3 })
  })

  it("passing the client's X-Forwarded-For as is lets one person count as two", async () => {
    const s = await radiator()
    const p = await behind('nginx', s, {
      mutate: (c) => c.replace('$proxy_add_x_forwarded_for', '$http_x_forwarded_for'),
    })
    expect(await countVisitors(p, s)).toEqual({ twoPeople: 1, plusOneSpoofing: 3 })
  })

  it('without X-Forwarded-Proto the client can claim https', async () => {
    const s = await radiator()
    const p = await behind('nginx', s, { mutate: without(/^.*proxy_set_header X-Forwarded-Proto .*\n/m) })
    await openWs(p, p.url.replace('http:', 'https:'), { 'x-forwarded-proto': 'https' })
  })

  it("with nginx's default 1 MB body limit a large webhook never reaches Radiator", async () => {
    const s = await radiator()
    const p = await behind('nginx', s, { mutate: without(/^.*client_max_body_size .*\n/m) })
    const res = await fetch(`${p.url}/hooks/generic`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: paddedBuild(2_000_000),
    })
    expect(res.status).toBe(413)
    expect(res.headers.get('content-type')).toMatch(/text\/html/)
  })
})

describe.skipIf(!CADDY)('the checks fail against a broken Caddy config', () => {
  it('with upgrades refused the WebSocket is refused', async () => {
    const s = await radiator()
    const p = await behind('caddy', s, { mutate: refuseUpgrades('caddy') })
    await expect(openWs(p)).rejects.toThrow(/upgrade refused: 403/)
  })

  it('with buffer_responses SSE events are held back', async () => {
    const s = await radiator()
    const p = await behind('caddy', s, { mutate: (c) => c.replace('flush_interval -1', 'buffer_responses') })
    expect(await sseDelivers(p, s)).toBe(false)
  })
})

describe('deploy/nginx.conf', () => {
  it('keeps /live open longer than the longest poll (120 s) and heartbeat interval (300 s) Radiator accepts', () => {
    expect(() => configFrom({ LIVE_POLL_TIMEOUT_MS: '120001' })).toThrow(/LIVE_POLL_TIMEOUT_MS/)
    expect(() => configFrom({ LIVE_HEARTBEAT_MS: '300001' })).toThrow(/LIVE_HEARTBEAT_MS/)
    const conf = readFileSync(join(DEPLOY, 'nginx.conf'), 'utf8')
    const live = conf.slice(conf.indexOf('location /live'))
    const seconds = Number(/proxy_read_timeout (\d+)s;/.exec(live)?.[1])
    expect(seconds).toBeGreaterThan(300)
  })
})
