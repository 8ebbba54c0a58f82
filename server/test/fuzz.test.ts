/**
 * Property-based tests over the HTTP surface of a real Radiator (issue 11): arbitrary and mutated
 * beacon bodies, metric pushes and query strings never get a 5xx, never make a handler throw past
 * the error handler (an `error` log line), and leave the read APIs answering valid JSON.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { Agent, request, type IncomingHttpHeaders } from 'node:http'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import { z } from 'zod'
import { customMetricsBody, summarySchema } from '../../contract/metrics.ts'
import { query, startTestServer, until, type TestServer } from './harness.ts'

const SITE = 'shop.example.com'
const ORIGIN = `https://${SITE}`
const BROWSER_UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36'
const METRICS_TOKEN = 'fuzz-metrics-token'
const GENERIC_TOKEN = 'fuzz-generic-token'
const ADMIN_TOKEN = 'fuzz-admin-token'
/** FUZZ_RUNS=10 searches ten times as long (a local hunt); the default keeps the file quick. */
const RUNS = Math.max(1, Number(process.env.FUZZ_RUNS) || 1)

// ---------------------------------------------------------------------------------------------
// Raw HTTP: node:http sends the path and headers exactly as generated (fetch would normalize them).

interface Answer {
  status: number
  headers: IncomingHttpHeaders
  body: string
}

const agent = new Agent({ keepAlive: true, maxSockets: 4 })

function send(
  base: URL,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string | Buffer
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: base.hostname, port: base.port, method, path, headers, agent: headers.upgrade ? false : agent },
      (res) => {
        // A stream (SSE) is judged by its head: the test stops reading once the status is in.
        if (String(res.headers['content-type']).startsWith('text/event-stream')) {
          res.destroy()
          return resolve({ status: res.statusCode!, headers: res.headers, body: '' })
        }
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        // A compressed answer (a gzip snapshot on a long poll, a precompressed asset) is judged decoded,
        // as a client that asked for the coding reads it.
        res.on('end', () => {
          const raw = Buffer.concat(chunks)
          const coding = res.headers['content-encoding']
          const decoded = coding === 'gzip' ? gunzipSync(raw) : coding === 'br' ? brotliDecompressSync(raw) : raw
          resolve({ status: res.statusCode!, headers: res.headers, body: decoded.toString('utf8') })
        })
        res.on('error', reject)
      }
    )
    req.on('upgrade', (res, socket) => {
      socket.destroy()
      resolve({ status: res.statusCode!, headers: res.headers, body: '' })
    })
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer within 10 s: ${method} ${path}`)))
    req.on('error', reject)
    req.end(body)
  })
}

const errorShape = z.object({ code: z.string().min(1), message: z.string() })

/**
 * Anything 5xx fails the property. With `jsonErrors` (the /api routes) a 4xx must also be JSON
 * `{ code, message }`; other routes may answer people (a sign-in page) or sockets (a refused
 * upgrade) otherwise.
 */
function expectHandled(a: Answer, what: string, jsonErrors = true) {
  expect(a.status, `${what} → ${a.status} ${a.body.slice(0, 300)}`).toBeLessThan(500)
  // 431 is Node's own answer to an oversized request head, before any route runs.
  if (jsonErrors && a.status >= 400 && a.status !== 431) {
    expect(a.headers['content-type'], `${what} → ${a.status} content-type`).toMatch(/^application\/json/)
    const parsed = errorShape.safeParse(JSON.parse(a.body))
    expect(parsed.success, `${what} → ${a.status} body ${a.body.slice(0, 300)}`).toBe(true)
  }
}

// ---------------------------------------------------------------------------------------------
// Arbitraries

/** Header values Node will send: printable ASCII and Latin-1, no control characters. */
const headerValue = fc.string({
  unit: fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) },
    { weight: 1, arbitrary: fc.integer({ min: 0xa0, max: 0xff }).map((c) => String.fromCharCode(c)) }
  ),
  maxLength: 200,
})

/** Strings a hostile or broken client sends: unicode, lone surrogates, control characters, long runs. */
const nastyString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    '\ud800',
    '\u202e',
    '__proto__',
    'constructor',
    '%',
    '%zz',
    '\n',
    'null',
    '🙂'.repeat(50)
  ),
  fc.integer({ min: 100, max: 20_000 }).map((n) => 'x'.repeat(n))
)

const nastyNumber = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(
    0,
    -0,
    -1,
    5e-324,
    1e-7,
    0.25,
    1e15,
    1e16,
    1e308,
    -1e308,
    Number.MAX_SAFE_INTEGER + 2,
    60_000,
    60_000.0001,
    100
  )
)

const VITALS = ['LCP', 'INP', 'CLS', 'FCP', 'TTFB'] as const

const beaconEvent = fc.oneof(
  fc.record({
    type: fc.constantFrom('pageview', 'heartbeat', 'leave'),
    path: fc.oneof(fc.constantFrom('/', '/a?b#c', '/x/y'), nastyString),
  }),
  fc.record(
    {
      type: fc.constant('vital'),
      path: fc.oneof(fc.constantFrom('/', '/checkout'), nastyString),
      name: fc.constantFrom(...VITALS),
      value: fc.oneof(
        fc.double({ min: 0, max: 60_000, noNaN: true }),
        fc.constantFrom(0, 5e-324, 0.1, 0.25, 100, 2500, 60_000)
      ),
      id: fc.oneof(fc.constantFrom('v5-1', 'v5-2', 'v5-3'), nastyString),
      nav: fc.constantFrom('navigate', 'reload', 'back-forward-cache', 'restore'),
    },
    { requiredKeys: ['type', 'path', 'name', 'value', 'id'] }
  )
)

const siteValue = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(SITE, SITE.toUpperCase(), 'www.shop.example.com', 'blog.example.org') },
  { weight: 1, arbitrary: nastyString }
)

/** Events the schema takes, with edge values: the pipeline's deeper steps and the rollups see these. */
const MAX_VITAL = { LCP: 60_000, INP: 60_000, CLS: 100, FCP: 60_000, TTFB: 60_000 } as const
const goodPath = fc.oneof(
  fc.constantFrom('/', '/checkout', '/a?b#c', '?only-query', '#x', '//', '/%zz'),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }),
  fc.integer({ min: 500, max: 1024 }).map((n) => `/${'🙂'.repeat(n).slice(0, n - 1)}`)
)
const goodEvent = fc.oneof(
  fc.record({ type: fc.constantFrom('pageview', 'heartbeat', 'leave'), path: goodPath }),
  fc.constantFrom(...VITALS).chain((name) =>
    fc.record(
      {
        type: fc.constant('vital'),
        path: goodPath,
        name: fc.constant(name),
        value: fc.oneof(
          fc.double({ min: 0, max: MAX_VITAL[name], noNaN: true }),
          fc.constantFrom(0, 5e-324, 0.1, 0.25, 2500, MAX_VITAL[name])
        ),
        // A few shared ids: CLS and INP reported again replace their earlier sample.
        id: fc.oneof(fc.constantFrom('v5-1', 'v5-2', 'v5-3'), fc.string({ minLength: 1, maxLength: 100 })),
        nav: fc.constantFrom('navigate', 'reload', 'back-forward-cache', 'restore'),
      },
      { requiredKeys: ['type', 'path', 'name', 'value', 'id'] }
    )
  )
)
const goodBeacon = fc.record(
  {
    site: fc.constantFrom(SITE, SITE.toUpperCase()),
    width: fc.integer({ min: 0, max: 100_000 }),
    events: fc.array(goodEvent, { minLength: 1, maxLength: 50 }),
  },
  { requiredKeys: ['site', 'events'] }
)

const validBeacon = fc.record(
  {
    site: siteValue,
    width: fc.oneof(fc.integer({ min: 0, max: 100_000 }), nastyNumber),
    events: fc.array(beaconEvent, { minLength: 1, maxLength: 6 }),
  },
  { requiredKeys: ['site', 'events'] }
)

const DELETE = Symbol('delete')

/** Every path into a JSON value, the root included. */
function pathsOf(v: unknown, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(at)
  if (Array.isArray(v)) v.forEach((x, i) => pathsOf(x, [...at, i], out))
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) pathsOf(x, [...at, k], out)
  return out
}

/** `v` with the value at one of its paths replaced (or removed): one field broken, the rest valid. */
function mutateAt(v: unknown, pick: number, replacement: unknown): unknown {
  const paths = pathsOf(v)
  const path = paths[pick % paths.length]!
  if (path.length === 0) return replacement === DELETE ? {} : replacement
  const copy = structuredClone(v) as Record<string | number, unknown>
  let parent = copy
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>
  const last = path.at(-1)!
  if (replacement === DELETE) {
    if (Array.isArray(parent)) parent.splice(Number(last), 1)
    else delete parent[last]
  } else parent[last] = replacement
  return copy
}

const replacement = fc.oneof(
  fc.constant(DELETE),
  fc.jsonValue({ maxDepth: 3 }),
  nastyString,
  nastyNumber,
  fc.constantFrom(null, true, [], {}, [[[[]]]], { type: 'vital' })
)

/** A JSON value, mostly one mutation away from valid. */
function mutated<T>(valid: fc.Arbitrary<T>) {
  return fc.oneof(
    { weight: 3, arbitrary: valid },
    { weight: 6, arbitrary: fc.tuple(valid, fc.nat(), replacement).map(([v, i, r]) => mutateAt(v, i, r)) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(valid, fc.nat(), replacement, fc.nat(), replacement)
        .map(([v, i, r, j, s]) => mutateAt(mutateAt(v, i, r), j, s)),
    },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) }
  )
}

/** The bytes on the wire: JSON of the value, or something that is not JSON at all. */
function bodyOf(value: fc.Arbitrary<unknown>) {
  return fc.oneof(
    { weight: 8, arbitrary: value.map((v) => JSON.stringify(v) ?? 'undefined') },
    {
      weight: 1,
      arbitrary: value.chain((v) => {
        const s = JSON.stringify(v) ?? ''
        return fc.nat({ max: s.length }).map((n) => s.slice(0, n))
      }),
    },
    { weight: 1, arbitrary: nastyString },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '',
        '{',
        '[]',
        'null',
        '0',
        '"x"',
        '{"site":',
        '\ufeff{}',
        '{"__proto__":{"site":"x"}}',
        '{"site":"a","site":"b"}',
        // Deep nesting, under the body limits.
        '['.repeat(5000) + ']'.repeat(5000),
        `${'{"a":'.repeat(2000)}1${'}'.repeat(2000)}`,
        `{"site":"${SITE}","events":[${'{"type":"pageview","path":"/"},'.repeat(60)}{}]}`
      ),
    }
  )
}

const contentType = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      'text/plain;charset=UTF-8',
      'text/plain',
      'application/json',
      'application/json; charset=utf-8'
    ),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      undefined,
      '',
      ';',
      'TEXT/PLAIN',
      ' application/json ',
      'text/plain;;;',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/jsonx'
    ),
  },
  { weight: 1, arbitrary: headerValue }
)

const originHeader = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(ORIGIN, 'https://www.shop.example.com') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      undefined,
      '',
      'null',
      'http://shop.example.com:8080',
      'https://SHOP.EXAMPLE.COM',
      'https://evil.example',
      'https://shop.example.com.evil.example',
      'https://evil@shop.example.com',
      '//shop.example.com',
      'not a url',
      'https://[::1]',
      'https://xn--',
      'https://%73hop.example.com'
    ),
  },
  { weight: 1, arbitrary: headerValue }
)

const userAgent = fc.oneof(
  { weight: 6, arbitrary: fc.constant(BROWSER_UA) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(undefined, '', 'Googlebot/2.1 (+http://www.google.com/bot.html)', 'curl/8.0'),
  },
  { weight: 1, arbitrary: headerValue }
)

function headersOf(o: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).filter((e): e is [string, string] => e[1] !== undefined))
}

// Query strings: known keys and arbitrary ones, repeated, with values raw, encoded or broken.
const QUERY_KEYS = [
  'project',
  'pipeline',
  'pipelineId',
  'branch',
  'provider',
  'status',
  'limit',
  'cursor',
  'outcome',
  'window',
  'device',
  'name',
  'label',
  'since',
  'topics',
  'snapshot',
]

const numberText = fc.oneof(
  fc.integer().map(String),
  fc.double().map(String),
  fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }).map(String),
  fc.constantFrom(
    '0',
    '-0',
    '-1',
    '1e309',
    '-1e309',
    'NaN',
    'Infinity',
    '0x10',
    '1.5',
    '+1',
    ' 1',
    '1 ',
    '1e2',
    '0b1',
    '9'.repeat(400),
    '00001',
    '1_000',
    '٣'
  )
)

const knownValue = fc.constantFrom(
  'github',
  'generic',
  'gitlab',
  'success',
  'failure',
  'running',
  'stored',
  'duplicate',
  'rejected',
  '5m',
  '1h',
  '24h',
  '7d',
  '28d',
  'mobile',
  'tablet',
  'desktop',
  'all',
  'builds',
  'visitors',
  'metric,builds',
  '1',
  'acme/web',
  'main',
  'fuzz.metric',
  '1:x',
  '0:',
  `${Date.now()}:zz`,
  '99999999999999999999999:x',
  '-5:x',
  ':',
  '1:'
)

const rawSafe = fc.string({
  unit: fc.constantFrom(..."abcXYZ019-._~!$'()*+,;:@/?".split('')),
  maxLength: 30,
})

const percentGarbage = fc.constantFrom(
  '%',
  '%%',
  '%zz',
  '%E0%A4%A',
  '%00',
  '%C0%AF',
  '%FF',
  '%ED%A0%80',
  '%2',
  '%25',
  '%u0041',
  '%0A',
  '%F0%9F'
)

const queryValue = fc.oneof(
  { weight: 3, arbitrary: knownValue },
  { weight: 3, arbitrary: numberText.map(encodeURIComponent) },
  { weight: 2, arbitrary: nastyString.map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, '?'))) },
  { weight: 2, arbitrary: rawSafe },
  {
    weight: 1,
    arbitrary: fc.array(fc.oneof(percentGarbage, rawSafe), { minLength: 1, maxLength: 4 }).map((a) => a.join('')),
  },
  { weight: 1, arbitrary: fc.constantFrom('', '=', '==', '&') },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 12_000 }).map((n) => 'y'.repeat(n)) }
)

const queryString = fc
  .array(
    fc.tuple(
      fc.oneof(
        { weight: 5, arbitrary: fc.constantFrom(...QUERY_KEYS) },
        {
          weight: 1,
          arbitrary: fc.oneof(
            rawSafe,
            percentGarbage,
            fc.constantFrom('', '__proto__', 'constructor', 'limit[]', 'LIMIT', 'since%00', 'cursor%3D1')
          ),
        }
      ),
      queryValue,
      fc.boolean()
    ),
    { maxLength: 6 }
  )
  .map((pairs) => pairs.map(([k, v, bare]) => (bare && v === '' ? k : `${k}=${v}`)).join('&'))
  .chain((q) => fc.constantFrom(q, `&${q}&`, `${q}&&`, q.replace(/&/g, ';')))
  // Node answers a request head over 16 KiB itself (431) and drops the connection: not a route's doing.
  .filter((q) => q.length <= 12_000)

// ---------------------------------------------------------------------------------------------
// The route table: the running app's own (RunningServer.routes is the served Hono app's table).

interface GetRoute {
  path: string
  /** 'GET' or 'ALL' */
  method: string
}

function routeTable(running: TestServer): GetRoute[] {
  const seen = new Set<string>()
  const out: GetRoute[] = []
  for (const r of running.routes) {
    if ((r.method !== 'GET' && r.method !== 'ALL') || seen.has(r.path)) continue
    seen.add(r.path)
    out.push({ path: r.path, method: r.method })
  }
  return out
}

const rawSegment = fc.string({
  unit: fc.constantFrom(..."abcXYZ019-._~!$'()*+,;:@".split('')),
  minLength: 1,
  maxLength: 30,
})

function paramArb(real: string[]) {
  return fc.oneof(
    { weight: 3, arbitrary: real.length ? fc.constantFrom(...real.map(encodeURIComponent)) : rawSegment },
    { weight: 2, arbitrary: rawSegment },
    {
      weight: 2,
      arbitrary: nastyString
        .filter((s) => s.length > 0)
        .map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, '?'))),
    },
    {
      weight: 2,
      arbitrary: fc.array(fc.oneof(percentGarbage, rawSegment), { minLength: 1, maxLength: 3 }).map((a) => a.join('')),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '..',
        '.',
        '%2e%2e',
        '%2F',
        'a%2Fb',
        '%20',
        '~',
        '*',
        ':id',
        'index.html',
        'x'.repeat(3000)
      ),
    }
  )
}

/** The route's path with each `:param` and `*` filled in. */
function fillPath(route: string, real: Record<string, string[]>) {
  const parts = route.split('/')
  return fc
    .tuple(
      ...parts.map((p) =>
        p.startsWith(':')
          ? paramArb(real[p.slice(1)] ?? [])
          : p === '*'
            ? fc.array(paramArb([]), { minLength: 0, maxLength: 3 }).map((a) => a.join('/'))
            : fc.constant(p)
      )
    )
    .map((filled) => filled.join('/') || '/')
}

// ---------------------------------------------------------------------------------------------

let s: TestServer
let base: URL
const errorLines: string[] = []

beforeAll(async () => {
  const env = {
    SITES: `${SITE},blog.example.org`,
    METRICS_TOKEN,
    GENERIC_WEBHOOK_TOKEN: GENERIC_TOKEN,
    COLLECT_PER_MINUTE: '0',
    LIVE_POLL_TIMEOUT_MS: '100',
    LOG_LEVEL: 'error',
    // Reads open to viewers, and an admin token so the
    // admin-only routes are walked past their guard too.
    PUBLIC_DASHBOARD: 'true',
    ADMIN_TOKEN,
  }
  s = await startTestServer(env, undefined, undefined, (line) => errorLines.push(line))
  base = new URL(s.url)
  // Some data for the read routes to walk over: builds on two pipelines, beacons, a metric.
  for (const [i, status] of ['running', 'failure', 'success'].entries()) {
    const res = await send(
      base,
      'POST',
      '/hooks/generic',
      { authorization: `Bearer ${GENERIC_TOKEN}`, 'content-type': 'application/json' },
      JSON.stringify({
        id: `b${i % 2}`,
        project: 'acme/web',
        pipeline: i % 2 ? 'deploy' : 'ci',
        branch: 'main',
        status,
        number: i + 1,
      })
    )
    expect(res.status).toBe(200)
  }
  const beacon = await send(
    base,
    'POST',
    '/api/collect',
    { 'content-type': 'text/plain;charset=UTF-8', origin: ORIGIN, 'user-agent': BROWSER_UA },
    JSON.stringify({
      site: SITE,
      width: 400,
      events: [
        { type: 'pageview', path: '/' },
        { type: 'vital', path: '/', name: 'LCP', value: 1200, id: 'seed' },
      ],
    })
  )
  expect(beacon.status).toBe(202)
  const metric = await send(
    base,
    'POST',
    '/api/metrics',
    { authorization: `Bearer ${METRICS_TOKEN}` },
    JSON.stringify({ name: 'fuzz.metric', value: 1 })
  )
  expect(metric.status).toBe(202)
})

// Each property answers for the error lines logged while it ran.
beforeEach(() => {
  errorLines.length = 0
})

afterAll(async () => {
  agent.destroy()
  await s?.destroy()
})

/** The read side still answers: /api/sites and every site's summary, 200 and schema-valid JSON. */
async function expectReadsHealthy() {
  const sites = await send(base, 'GET', '/api/sites')
  expect(sites.status, sites.body).toBe(200)
  const list = JSON.parse(sites.body) as { sites: { site: string; live: number; last5m: number }[] }
  expect(list.sites.map((x) => x.site).sort()).toEqual(['blog.example.org', SITE])
  for (const { site } of list.sites) {
    for (const window of ['5m', '1h', '24h', '7d', '28d']) {
      for (const device of ['', '&device=mobile', '&device=tablet', '&device=desktop']) {
        const res = await send(base, 'GET', `/api/sites/${site}/summary?window=${window}${device}`)
        expect(res.status, res.body).toBe(200)
        const parsed = summarySchema.safeParse(JSON.parse(res.body))
        expect(parsed.success, `${site} ${window}${device}: ${parsed.error?.message}`).toBe(true)
      }
    }
  }
}

/** No error logged since line `from` (each run checks its own lines, so shrinking blames the right input). */
function expectNoErrorLogs(from = 0) {
  const lines = errorLines.slice(from)
  expect(lines, lines.join('\n')).toEqual([])
}

describe('fuzzing the HTTP surface', () => {
  // Half well-formed beacons from a site's page (they reach the write and the rollups), half anything.
  const collectRequest = fc.oneof(
    fc.tuple(
      goodBeacon.map((b) => JSON.stringify(b)),
      fc.constantFrom('text/plain;charset=UTF-8', 'application/json'),
      fc.constantFrom(ORIGIN, 'https://www.shop.example.com'),
      fc.constant(BROWSER_UA)
    ),
    fc.tuple(bodyOf(mutated(validBeacon)), contentType, originHeader, userAgent)
  )

  it('POST /api/collect: any body, content type, Origin and site gets a 2xx/4xx, and the site reads stay valid', {
    timeout: 60_000 * RUNS,
  }, async () => {
    let accepted = 0
    await fc.assert(
      fc.asyncProperty(collectRequest, fc.boolean(), async ([body, type, origin, ua], chunked) => {
        const logged = errorLines.length
        const headers = headersOf({ 'content-type': type, origin, 'user-agent': ua })
        if (chunked) headers['transfer-encoding'] = 'chunked'
        const a = await send(base, 'POST', '/api/collect', headers, body)
        expectHandled(a, `collect ${JSON.stringify({ headers, body: String(body).slice(0, 300) })}`)
        if (a.status === 202 && !a.headers['x-radiator-dropped']) accepted++
        expectNoErrorLogs(logged)
      }),
      { numRuns: 250 * RUNS }
    )
    // Enough got through every step to the database for the reads below to mean something.
    expect(accepted).toBeGreaterThan(25 * RUNS)
    // Rolled up, the fuzzed samples (edge values, odd paths) must still summarize.
    const one = async (sql: string) => Number(Object.values((await query(s, sql))[0] ?? {})[0] ?? 0)
    const hits = () => one('SELECT max(id) AS id FROM site_hits')
    const rolled = () => one("SELECT value FROM meta WHERE key = 'metrics_rolled_hits'")
    await until(async () => (await rolled()) >= (await hits()), 'the rollup of the fuzzed beacons', 15_000)
    await expectReadsHealthy()
    expectNoErrorLogs()
  })

  it('POST /api/metrics: any body gets 202 or a 4xx with a reason, and what was stored reads back', {
    timeout: 60_000 * RUNS,
  }, async () => {
    const metric = fc.record(
      {
        name: fc.oneof(fc.constantFrom('deploys', 'queue.depth', 'error rate'), nastyString),
        value: nastyNumber,
        unit: fc.oneof(fc.constantFrom('ms', '%', 'count'), nastyString),
        tags: fc.oneof(
          fc.dictionary(
            fc.oneof(fc.constantFrom('env', 'region', '__proto__', 'constructor'), nastyString),
            fc.oneof(fc.constantFrom('prod', 'eu'), nastyString),
            { maxKeys: 22 }
          ),
          fc.constantFrom({ env: 'prod' }, {})
        ),
      },
      { requiredKeys: ['name', 'value'] }
    )
    const payload = fc.oneof(
      metric,
      fc.array(metric, { minLength: 0, maxLength: 5 }),
      fc.array(metric, { minLength: 99, maxLength: 102 })
    )
    const auth = fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom(`Bearer ${METRICS_TOKEN}`, `bearer ${METRICS_TOKEN}  `) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          undefined,
          '',
          'Bearer',
          'Bearer wrong',
          `Basic ${METRICS_TOKEN}`,
          `Bearer ${METRICS_TOKEN} extra`
        ),
      },
      { weight: 1, arbitrary: headerValue }
    )
    const stored: string[] = []
    await fc.assert(
      fc.asyncProperty(bodyOf(mutated(payload)), auth, contentType, async (body, authorization, type) => {
        const logged = errorLines.length
        const headers = headersOf({ authorization, 'content-type': type })
        const a = await send(base, 'POST', '/api/metrics', headers, body)
        expectHandled(a, `metrics ${JSON.stringify({ headers, body: String(body).slice(0, 300) })}`)
        if (a.status === 202) {
          // Only a body the schema takes is stored, and the answer says what was.
          expect(customMetricsBody.safeParse(JSON.parse(String(body))).success).toBe(true)
          const answer = JSON.parse(a.body) as { stored: number; metrics: { name: string }[] }
          expect(answer.stored).toBe(answer.metrics.length)
          stored.push(...answer.metrics.map((m) => m.name))
        } else expect(a.status, a.body).toBeGreaterThanOrEqual(400)
        expectNoErrorLogs(logged)
      }),
      { numRuns: 200 * RUNS }
    )
    expect(stored.length).toBeGreaterThan(0)
    const all = await send(base, 'GET', '/api/metrics')
    expect(all.status, all.body).toBe(200)
    const latest = JSON.parse(all.body) as { metrics: Record<string, unknown> }
    for (const name of new Set(stored)) {
      expect(Object.hasOwn(latest.metrics, name), `latest has ${JSON.stringify(name)}`).toBe(true)
      // A name with a lone surrogate can't be put in a URL; one over 100 characters can't be asked for.
      if (/\p{Surrogate}/u.test(name)) continue
      const series = await send(base, 'GET', `/api/metrics?name=${encodeURIComponent(name)}&window=1h`)
      expect(series.status, series.body).toBe(name.length > 100 ? 400 : 200)
    }
    expectNoErrorLogs()
  })

  it('every GET route: arbitrary query strings, path params and resume headers never get a 5xx', {
    timeout: 60_000 * RUNS,
  }, async () => {
    const routes = routeTable(s)
    // The table is the app's: if these go missing the walk below would quietly cover less.
    for (const p of [
      '/healthz',
      '/live',
      '/live/sse',
      '/live/poll',
      '/api/builds',
      '/api/builds/:id',
      '/api/pipelines/:id',
      '/api/deliveries',
      '/api/sites',
      '/api/sites/:site/summary',
      '/api/metrics',
      '/cctray.xml',
      '/badge.svg',
      '/badge.json',
      '/beacon.js',
      '/api/*',
      '/*',
    ])
      expect(routes.map((r) => r.path)).toContain(p)

    const builds = JSON.parse((await send(base, 'GET', '/api/builds')).body) as {
      builds: { id: string; pipelineId: string }[]
    }
    const pipelines = JSON.parse((await send(base, 'GET', '/api/pipelines')).body) as { pipelines: { id: string }[] }
    const real: Record<string, string[]> = {
      id: [...builds.builds.map((b) => b.id), ...pipelines.pipelines.map((p) => p.id)],
      site: [SITE, SITE.toUpperCase(), 'blog.example.org', 'unknown.example'],
      provider: ['github', 'generic', 'nope'],
    }
    expect(real.id!.length).toBeGreaterThan(0)

    const extraHeaders = fc.record(
      {
        'last-event-id': fc.oneof(
          numberText.filter((v) => /^[\x20-\x7e]*$/.test(v)),
          headerValue
        ),
        'if-none-match': fc.oneof(headerValue, fc.constant('*')),
        'accept-encoding': fc.constantFrom('gzip', 'br', 'identity', '*', ''),
      },
      { requiredKeys: [] }
    )
    for (const route of routes) {
      const wsRoute = route.path === '/live'
      await fc.assert(
        fc.asyncProperty(
          fillPath(route.path, real),
          queryString,
          extraHeaders,
          fc.boolean(),
          fc.boolean(),
          async (path, query, headers, upgrade, asAdmin) => {
            const logged = errorLines.length
            const target = query ? `${path}?${query}` : path
            const h: Record<string, string> = { ...headers }
            if (asAdmin) h.authorization = `Bearer ${ADMIN_TOKEN}`
            upgrade &&= wsRoute
            if (upgrade)
              Object.assign(h, {
                connection: 'Upgrade',
                upgrade: 'websocket',
                'sec-websocket-version': '13',
                'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
              })
            const a = await send(base, 'GET', target, h)
            const what = `${route.method} ${route.path} as GET ${target.slice(0, 400)} ${JSON.stringify(h)}`
            expectHandled(a, what, path.startsWith('/api/') && !upgrade)
            if (a.status === 200 && String(a.headers['content-type']).startsWith('application/json'))
              expect(() => JSON.parse(a.body), what).not.toThrow()
            expectNoErrorLogs(logged)
          }
        ),
        { numRuns: 30 * RUNS }
      )
    }
    await expectReadsHealthy()
  })
})
