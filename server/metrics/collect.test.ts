import { afterEach, describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { connect } from 'node:net'
import { startTestServer, type TestServer } from '../test/harness.ts'
import { BROWSER_UA, countOf, json, ORIGIN, postBeacon, postRaw, rowsOf, SITE } from '../test/metrics.ts'

const servers: TestServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.destroy()))
})

async function server(env: Parameters<typeof startTestServer>[0] = {}) {
  const s = await startTestServer({ SITES: `${SITE},blog.example.org`, ...env })
  servers.push(s)
  return s
}

const count = countOf

const dropped = async (s: TestServer) => (await json(fetch(`${s.url}/api/sites`))).collect.dropped

describe('POST /api/collect', () => {
  it('stores a page view before answering 202, with the CORS header for the site', async () => {
    const s = await server()
    const res = await postBeacon(s.url, [{ type: 'pageview', path: '/checkout?coupon=SECRET#top' }])
    expect(res.status).toBe(202)
    expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN)
    // Answered after COMMIT: the row is there the moment the 202 is.
    const [row] = await rowsOf(s, 'SELECT site, kind, path, device FROM site_hits')
    expect(row).toEqual({ site: SITE, kind: 'pageview', path: '/checkout', device: 'desktop' })
  })

  it('takes application/json from fetch clients as well as text/plain', async () => {
    const s = await server()
    const res = await postBeacon(s.url, [{ type: 'pageview', path: '/' }], { contentType: 'application/json' })
    expect(res.status).toBe(202)
  })

  it('stores vitals with the rating computed on the server', async () => {
    const s = await server()
    const res = await postBeacon(s.url, [
      { type: 'vital', path: '/', name: 'LCP', value: 4200, id: 'v5-a', nav: 'navigate' },
      { type: 'vital', path: '/', name: 'CLS', value: 0.1, id: 'v5-b', nav: 'reload' },
    ])
    expect(res.status).toBe(202)
    const rows = await rowsOf(s, 'SELECT metric, value, rating, nav FROM site_samples ORDER BY id')
    expect(rows).toEqual([
      { metric: 'LCP', value: 4200, rating: 'poor', nav: 'navigate' },
      { metric: 'CLS', value: 0.1, rating: 'good', nav: 'reload' },
    ])
  })

  it('answers a CORS preflight for a site origin and refuses one from elsewhere', async () => {
    const s = await server()
    const ok = await fetch(`${s.url}/api/collect`, {
      method: 'OPTIONS',
      headers: { origin: 'https://www.shop.example.com', 'access-control-request-method': 'POST' },
    })
    expect(ok.status).toBe(204)
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://www.shop.example.com')
    expect(ok.headers.get('access-control-allow-headers')).toContain('content-type')
    const bad = await fetch(`${s.url}/api/collect`, { method: 'OPTIONS', headers: { origin: 'https://evil.example' } })
    expect(bad.status).toBe(403)
  })

  it('rejects a body over 16 KB with 413, declared or streamed, and counts it', async () => {
    const s = await server()
    const big = JSON.stringify({ site: SITE, events: [{ type: 'pageview', path: `/${'a'.repeat(17_000)}` }] })
    const res = await postRaw(s.url, big)
    expect(res.status).toBe(413)
    expect((await res.json()).code).toBe('PAYLOAD_TOO_LARGE')
    const chunked = await fetch(`${s.url}/api/collect`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', origin: ORIGIN, 'user-agent': BROWSER_UA },
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < 20; i++) c.enqueue(new TextEncoder().encode('x'.repeat(1024)))
          c.close()
        },
      }),
      duplex: 'half',
    } as RequestInit)
    expect(chunked.status).toBe(413)
    // The rest of a body over the limit is not read: the connection is closed instead.
    expect(chunked.headers.get('connection')).toBe('close')
    expect((await dropped(s)).too_large).toBe(2)
    expect(await count(s, 'site_hits')).toBe(0)
  })

  it('is served with a query string on the URL too; other methods get the API 404', async () => {
    const s = await server()
    const body = JSON.stringify({ site: SITE, events: [{ type: 'pageview', path: '/' }] })
    const res = await fetch(`${s.url}/api/collect?v=1`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'text/plain;charset=UTF-8', origin: ORIGIN, 'user-agent': BROWSER_UA },
    })
    expect(res.status).toBe(202)
    expect(await count(s, 'site_hits')).toBe(1)
    const get = await fetch(`${s.url}/api/collect`)
    expect(get.status).toBe(404)
    expect((await get.json()).code).toBe('NOT_FOUND')
  })

  it('stores nothing for a client that goes away mid-body, and keeps answering', async () => {
    const s = await server()
    const sock = connect(s.port, '127.0.0.1')
    await new Promise((r) => sock.once('connect', r))
    sock.write(
      `POST /api/collect HTTP/1.1\r\nhost: x\r\ncontent-type: text/plain\r\norigin: ${ORIGIN}\r\n` +
        `user-agent: ${BROWSER_UA}\r\ncontent-length: 500\r\n\r\n{"site":"${SITE}","events":[`
    )
    await new Promise((r) => setTimeout(r, 50))
    sock.destroy()
    await new Promise((r) => sock.once('close', r))
    expect((await postBeacon(s.url, [{ type: 'pageview', path: '/' }])).status).toBe(202)
    expect(await count(s, 'site_hits')).toBe(1)
    const body = await json(fetch(`${s.url}/api/sites`))
    expect(body.collect.accepted).toBe(1)
    expect(Object.values(body.collect.dropped).every((n) => n === 0)).toBe(true)
  })

  it('answers 503 with the reason, readable by the page, once writes are refused', async () => {
    const s = await server()
    await s.engine.writer.close() // what a shutdown does before the database closes
    const res = await postBeacon(s.url, [{ type: 'pageview', path: '/' }])
    expect(res.status).toBe(503)
    expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN)
    expect(res.headers.get('content-type')).toBe('application/json')
    expect(await res.json()).toEqual({ code: 'UNAVAILABLE', message: 'the database is closing' })
    expect(await count(s, 'site_hits')).toBe(0)
  })

  it('limits beacons per client address with 429 and Retry-After, counted, nothing stored', async () => {
    const s = await server({ COLLECT_PER_MINUTE: '3', TRUST_PROXY: 'true' })
    const send = (ip: string) => postBeacon(s.url, [{ type: 'pageview', path: '/' }], { ip })
    for (let i = 0; i < 3; i++) expect((await send('203.0.113.7')).status).toBe(202)
    const limited = await send('203.0.113.7')
    expect(limited.status).toBe(429)
    expect(limited.headers.get('retry-after')).toBe('20') // 3 a minute: a token every 20 s
    expect(limited.headers.get('x-radiator-dropped')).toBe('rate_limited')
    expect(limited.headers.get('access-control-allow-origin')).toBe(ORIGIN)
    expect((await limited.json()).code).toBe('TOO_MANY_REQUESTS')
    // Another address has its own allowance.
    expect((await send('198.51.100.2')).status).toBe(202)
    expect(await count(s, 'site_hits')).toBe(4)
    expect((await dropped(s)).rate_limited).toBe(1)
  })

  it('takes any number of beacons with COLLECT_PER_MINUTE=0', async () => {
    const s = await server({ COLLECT_PER_MINUTE: '0' })
    const answers = await Promise.all(
      Array.from({ length: 30 }, () => postBeacon(s.url, [{ type: 'heartbeat', path: '/' }]))
    )
    expect(answers.map((r) => r.status)).toEqual(Array(30).fill(202))
    const limited = await server({ COLLECT_PER_MINUTE: '10' })
    const some = await Promise.all(
      Array.from({ length: 30 }, () => postBeacon(limited.url, [{ type: 'heartbeat', path: '/' }]))
    )
    expect(some.filter((r) => r.status === 202)).toHaveLength(10)
  })

  it('rejects a body that is not JSON with 400', async () => {
    const s = await server()
    const res = await postRaw(s.url, '{"site": "shop.example.com", "events": [')
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ code: 'BAD_REQUEST', reason: 'not_json' })
  })

  it.each([
    ['no events', { site: SITE, events: [] }, 'events'],
    ['an unknown event type', { site: SITE, events: [{ type: 'click', path: '/' }] }, 'events.0.type'],
    [
      'an LCP above 60 s',
      { site: SITE, events: [{ type: 'vital', path: '/', name: 'LCP', value: 61_000, id: 'x' }] },
      'value out of range',
    ],
    [
      'a negative CLS',
      { site: SITE, events: [{ type: 'vital', path: '/', name: 'CLS', value: -1, id: 'x' }] },
      'events.0.value',
    ],
    [
      'an unknown metric',
      { site: SITE, events: [{ type: 'vital', path: '/', name: 'FID', value: 1, id: 'x' }] },
      'events.0.name',
    ],
    ['more than 50 events', { site: SITE, events: Array(51).fill({ type: 'heartbeat', path: '/' }) }, 'events'],
  ])('rejects %s with 400 and a reason', async (_name, body, reason) => {
    const s = await server()
    const res = await postRaw(s.url, JSON.stringify(body))
    expect(res.status).toBe(400)
    const err = await res.json()
    expect(err).toMatchObject({ code: 'BAD_REQUEST', reason: 'invalid' })
    expect(err.message).toContain(reason)
  })

  it('rejects a body sent as a form with 415', async () => {
    const s = await server()
    const res = await postBeacon(s.url, [{ type: 'pageview', path: '/' }], {
      contentType: 'application/x-www-form-urlencoded',
    })
    expect(res.status).toBe(415)
  })

  it('answers 404 for a site not in SITES', async () => {
    const s = await server()
    const res = await postBeacon(s.url, [{ type: 'pageview', path: '/' }], {
      site: 'other.example',
      origin: 'https://other.example',
    })
    expect(res.status).toBe(404)
    expect((await res.json()).message).toContain('SITES')
  })

  it('answers 403 when the Origin is not the site or one of its subdomains', async () => {
    const s = await server()
    for (const origin of [
      'https://evil.example',
      'https://shop.example.com.evil.example',
      'https://blog.example.org',
      'null',
    ]) {
      const res = await postBeacon(s.url, [{ type: 'pageview', path: '/' }], { origin })
      expect(res.status, origin).toBe(403)
      expect(res.headers.get('access-control-allow-origin')).toBeNull()
    }
    expect((await postBeacon(s.url, [{ type: 'pageview', path: '/' }], { origin: null })).status).toBe(403)
    expect((await dropped(s)).bad_origin).toBe(5)
  })

  it('takes beacons from subdomains and other ports of the site, unless subdomains are turned off', async () => {
    const s = await server()
    for (const origin of ['https://www.shop.example.com', 'http://shop.example.com:8443'])
      expect((await postBeacon(s.url, [{ type: 'pageview', path: '/' }], { origin })).status, origin).toBe(202)
    const strict = await server({ SITES_ALLOW_SUBDOMAINS: 'false' })
    expect(
      (await postBeacon(strict.url, [{ type: 'pageview', path: '/' }], { origin: 'https://www.shop.example.com' }))
        .status
    ).toBe(403)
    expect((await postBeacon(strict.url, [{ type: 'pageview', path: '/' }])).status).toBe(202)
  })

  it('drops bots with a harmless 202, counts them and stores nothing', async () => {
    const s = await server()
    for (const ua of ['Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', 'curl/8.5.0', null]) {
      const res = await postBeacon(s.url, [{ type: 'pageview', path: '/' }], { ua })
      expect(res.status).toBe(202)
      expect(res.headers.get('x-radiator-dropped')).toBe('bot')
    }
    expect((await dropped(s)).bot).toBe(3)
    expect(await count(s, 'site_hits')).toBe(0)
    const sites = await json(fetch(`${s.url}/api/sites`))
    expect(sites.sites.find((x: { site: string }) => x.site === SITE)).toMatchObject({ live: 0, last5m: 0 })
  })

  it('never stores the IP address, only the salted visitor hash', async () => {
    const s = await server({ TRUST_PROXY: 'true' })
    await postBeacon(s.url, [{ type: 'pageview', path: '/' }], { ip: '203.0.113.77' })
    await postBeacon(s.url, [{ type: 'vital', path: '/', name: 'LCP', value: 1000, id: 'v5-ip' }], {
      ip: '203.0.113.77',
    })
    if (s.engine.kind === 'sqlite') {
      await s.engine.writer.drain()
      s.engine.store.sqlite.pragma('wal_checkpoint(TRUNCATE)')
    }
    // On PostgreSQL the data directory holds no database: the columns are the proof.
    for (const f of ['radiator.db', 'radiator.db-wal']) {
      let bytes: Buffer
      try {
        bytes = readFileSync(join(s.dataDir, f))
      } catch {
        continue
      }
      expect(bytes.includes('203.0.113.77')).toBe(false)
    }
    const [{ visitor }] = await rowsOf<{ visitor: string }>(s, 'SELECT visitor FROM site_hits')
    expect(visitor).toMatch(/^[0-9a-f]{16}$/)
    const samples = await rowsOf(s, 'SELECT * FROM site_samples')
    expect(JSON.stringify(samples)).not.toContain('203.0.113.77')
  })

  it('believes X-Forwarded-For only with TRUST_PROXY', async () => {
    const visitorsFor = async (s: TestServer) => {
      for (const ip of ['198.51.100.1', '198.51.100.2'])
        await postBeacon(s.url, [{ type: 'pageview', path: '/' }], { ip })
      return (await json(fetch(`${s.url}/api/sites`))).sites.find((x: { site: string }) => x.site === SITE).last5m
    }
    expect(await visitorsFor(await server({ TRUST_PROXY: 'true' }))).toBe(2)
    // Without a trusted proxy both come from the same socket address: one visitor.
    expect(await visitorsFor(await server({ TRUST_PROXY: 'false' }))).toBe(1)
  })

  it('counts the address the trusted proxy appended, not entries the client wrote before it', async () => {
    const s = await server({ TRUST_PROXY: 'true' })
    // Two visitors behind the same proxy hop each forge a different first entry: still one address each.
    for (const ip of ['203.0.113.7, 198.51.100.1', '203.0.113.8, 198.51.100.1', '198.51.100.1'])
      await postBeacon(s.url, [{ type: 'pageview', path: '/' }], { ip })
    expect((await json(fetch(`${s.url}/api/sites`))).sites.find((x: { site: string }) => x.site === SITE).last5m).toBe(
      1
    )
  })

  it('says once, in the log, that X-Forwarded-For arrives while TRUST_PROXY is off', async () => {
    const lines: string[] = []
    const s = await startTestServer({ SITES: SITE, LOG_LEVEL: 'warn' }, undefined, undefined, (l) => lines.push(l))
    servers.push(s)
    await postBeacon(s.url, [{ type: 'pageview', path: '/' }])
    expect(lines).toEqual([])
    for (const ip of ['203.0.113.7', '198.51.100.2']) await postBeacon(s.url, [{ type: 'pageview', path: '/' }], { ip })
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain('set TRUST_PROXY=true')
    const trusted: string[] = []
    const t = await startTestServer(
      { SITES: SITE, LOG_LEVEL: 'warn', TRUST_PROXY: 'true' },
      undefined,
      undefined,
      (l) => trusted.push(l)
    )
    servers.push(t)
    await postBeacon(t.url, [{ type: 'pageview', path: '/' }], { ip: '203.0.113.7' })
    expect(trusted).toEqual([])
  })

  it('lists the configured sites with their visitors and the drop counters', async () => {
    const s = await server()
    await postBeacon(s.url, [{ type: 'pageview', path: '/' }])
    const body = await json(fetch(`${s.url}/api/sites`))
    expect(body.sites).toEqual([
      { site: SITE, live: 1, last5m: 1 },
      { site: 'blog.example.org', live: 0, last5m: 0 },
    ])
    expect(body.collect.accepted).toBe(1)
    // The sites are mirrored into the database.
    const rows = await rowsOf(s, 'SELECT domain FROM sites ORDER BY domain')
    expect(rows).toEqual([{ domain: 'blog.example.org' }, { domain: SITE }])
  })
})
