/**
 * GET /metrics and the request log on a real server: the scrape is valid Prometheus text (checked
 * by `promtool check metrics` where Debian's prometheus package is installed, and always by a JS
 * parser of the format), who may read it, counters that move after a webhook, a beacon and a live
 * connection, request ids in error bodies, sampling, and no secret in any log line.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { afterEach, describe, expect, it } from 'vitest'
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import { startTestServer, until, WsTestClient, type TestServer } from '../test/harness.ts'
import { postBeacon, SITE } from '../test/metrics.ts'
import { loadFixture } from '../test/fixtures.ts'
import { sign as signGithub } from '../test/sign/github.ts'
import { signStandard } from '../test/sign/gitlab.ts'

const servers: TestServer[] = []
const cleanups: (() => void)[] = []
afterEach(async () => {
  cleanups.splice(0).forEach((f) => f())
  await Promise.all(servers.splice(0).map((s) => s.destroy()))
})

async function server(env: Parameters<typeof startTestServer>[0] = {}, logTo?: (line: string) => void) {
  const s = await startTestServer(
    { SITES: SITE, GENERIC_WEBHOOK_TOKEN: 'generic-token-for-tests', ...env },
    undefined,
    undefined,
    logTo
  )
  servers.push(s)
  return s
}
const bearer = (t: string) => ({ authorization: `Bearer ${t}` })

interface Family {
  name: string
  type: string
  metrics: { labels?: Record<string, string>; value?: string; buckets?: Record<string, string>; count?: string }[]
}

const promtool = (() => {
  try {
    execFileSync('promtool', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    console.warn(
      '\n*** promtool not found: /metrics is checked with the JS parser only. Install it with `apt-get install prometheus` for the stricter check (CI does). ***\n'
    )
    return false
  }
})()

const PROM_CLIENT_LINT =
  /^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/

/** Scrapes /metrics, checks the text with promtool (when installed) and parses it. */
async function scrape(s: TestServer, headers: Record<string, string> = {}): Promise<Map<string, Family>> {
  const res = await fetch(`${s.url}/metrics`, { headers })
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
  const text = await res.text()
  if (promtool) {
    // Exit 1 is a format error; 3 lint complaints (naming, units, _total), which ours must not
    // have. prom-client's own nodejs_active_*_total gauges draw one each, upstream's naming.
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
    const complaints = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim() && !PROM_CLIENT_LINT.test(l))
    expect(complaints).toEqual([])
    expect([0, 3]).toContain(r.status)
  }
  const families = parsePrometheusTextFormat(text) as Family[]
  return new Map(families.map((f) => [f.name, f]))
}

/** The value of one series (0 when it is absent). */
function value(m: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const f = m.get(name)
  const series = f?.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v))
  return series ? Number(series.value ?? series.count) : 0
}

describe('GET /metrics', () => {
  it('is Prometheus text whose counters move after a webhook, a beacon and a live connection', async () => {
    const s = await server()
    const before = await scrape(s)
    expect(before.get('radiator_webhook_deliveries_total')?.type).toBe('COUNTER')
    expect(before.get('radiator_db_commit_seconds')?.type).toBe('HISTOGRAM')
    expect(before.get('radiator_live_clients')?.type).toBe('GAUGE')
    expect(before.has('nodejs_eventloop_lag_seconds')).toBe(true)
    expect(before.has('process_cpu_seconds_total')).toBe(true)
    expect(value(before, 'radiator_live_clients', { transport: 'ws' })).toBe(0)

    const hook = await fetch(`${s.url}/hooks/generic`, {
      method: 'POST',
      headers: { ...bearer('generic-token-for-tests'), 'content-type': 'application/json' },
      body: JSON.stringify({ project: 'acme/web', branch: 'feature/secret-plan', status: 'success' }),
    })
    expect(hook.status).toBe(200)
    expect((await postBeacon(s.url, [{ type: 'pageview', path: '/checkout/42' }])).status).toBe(202)
    expect((await postBeacon(s.url, [{ type: 'pageview', path: '/' }], { site: 'elsewhere.example' })).status).toBe(404)
    const ws = new WsTestClient(`${s.url.replace('http', 'ws')}/live`)
    cleanups.push(() => ws.close())
    await ws.opened
    await until(() => ws.messages.some((m) => m.type === 'snapshot'), 'the snapshot')
    expect((await fetch(`${s.url}/api/builds/nope-123`)).status).toBe(404)

    const after = await scrape(s)
    expect(value(after, 'radiator_webhook_deliveries_total', { provider: 'generic', outcome: 'stored' })).toBe(1)
    expect(value(after, 'radiator_beacons_accepted_total')).toBe(1)
    expect(value(after, 'radiator_beacons_dropped_total', { reason: 'unknown_site' })).toBe(1)
    expect(value(after, 'radiator_live_clients', { transport: 'ws' })).toBe(1)
    expect(value(after, 'radiator_live_events_published_total')).toBeGreaterThan(
      value(before, 'radiator_live_events_published_total')
    )
    expect(value(after, 'radiator_live_replay_buffer_events')).toBeGreaterThan(
      value(before, 'radiator_live_replay_buffer_events')
    )
    expect(value(after, 'radiator_db_write_batch_ops')).toBeGreaterThan(value(before, 'radiator_db_write_batch_ops'))
    // SQLite's WAL is synced apart from its COMMIT; PostgreSQL's COMMIT is its flush (no sync to time).
    if (s.engine.kind === 'sqlite')
      expect(value(after, 'radiator_db_wal_sync_seconds')).toBeGreaterThan(
        value(before, 'radiator_db_wal_sync_seconds')
      )
    expect(
      value(after, 'radiator_http_requests_total', { method: 'POST', route: '/hooks/:provider', status: '200' })
    ).toBe(1)
    expect(value(after, 'radiator_http_requests_total', { method: 'POST', route: '/api/collect', status: '202' })).toBe(
      1
    )
    expect(value(after, 'radiator_http_requests_total', { method: 'POST', route: '/api/collect', status: '404' })).toBe(
      1
    )
    expect(
      value(after, 'radiator_http_requests_total', { method: 'GET', route: '/api/builds/:id', status: '404' })
    ).toBe(1)
    expect(value(after, 'radiator_http_requests_total', { method: 'GET', route: '/live', status: '101' })).toBe(1)

    // Live events published after the connection reach it, and are counted as sent.
    await fetch(`${s.url}/hooks/generic`, {
      method: 'POST',
      headers: { ...bearer('generic-token-for-tests'), 'content-type': 'application/json' },
      body: JSON.stringify({ project: 'acme/web', status: 'failure' }),
    })
    await until(() => ws.messages.some((m) => m.type === 'build.finished'), 'the live build event')
    expect(value(await scrape(s), 'radiator_live_events_sent_total')).toBeGreaterThan(
      value(after, 'radiator_live_events_sent_total')
    )
    ws.close()
    await until(
      async () => value(await scrape(s), 'radiator_live_clients', { transport: 'ws' }) === 0 || undefined,
      'the client gone'
    )

    // Labels carry route patterns and closed lists: no raw path, branch or unknown site.
    const text = await (await fetch(`${s.url}/metrics`)).text()
    for (const raw of ['nope-123', 'feature/secret-plan', '/checkout/42', 'elsewhere.example'])
      expect(text).not.toContain(raw)
  })

  it('is for viewers and METRICS_SCRAPE_TOKEN, which opens nothing else', async () => {
    const s = await server({ PUBLIC_DASHBOARD: 'false', METRICS_SCRAPE_TOKEN: 'scrape-secret-for-tests' })
    const anonymous = await fetch(`${s.url}/metrics`)
    expect(anonymous.status).toBe(401)
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer realm="Radiator"/)
    expect((await anonymous.json()).message).toContain('METRICS_SCRAPE_TOKEN')
    expect((await fetch(`${s.url}/metrics`, { headers: bearer('wrong') })).status).toBe(401)
    await scrape(s, bearer('scrape-secret-for-tests'))
    await scrape(s, bearer('test-admin-token'))
    expect((await fetch(`${s.url}/api/builds`, { headers: bearer('scrape-secret-for-tests') })).status).toBe(401)
    expect((await fetch(`${s.url}/api/admin/tokens`, { headers: bearer('scrape-secret-for-tests') })).status).toBe(401)
  })
})

describe('the request log', () => {
  it('gives every request an id, echoed in X-Request-Id and in every JSON error body', async () => {
    const s = await server()
    for (const res of [
      await fetch(`${s.url}/api/nope`), // thrown, answered by the error handler
      await fetch(`${s.url}/hooks/generic`, { method: 'POST', headers: bearer('wrong'), body: '{}' }), // answered by the route
    ]) {
      const id = res.headers.get('x-request-id')
      expect(id).toMatch(/^[0-9a-f-]{36}$/)
      expect((await res.json()).requestId).toBe(id)
    }
    const ok = await fetch(`${s.url}/healthz`, { headers: { 'x-request-id': 'from-the-proxy-1' } })
    expect(ok.headers.get('x-request-id')).toBe('from-the-proxy-1')
    const odd = await fetch(`${s.url}/healthz`, { headers: { 'x-request-id': 'has spaces' } })
    expect(odd.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('logs one JSON line per request by route pattern; successes sampled at volume, errors never', async () => {
    const lines: string[] = []
    const s = await server({ LOG_LEVEL: 'info', LOG_SUCCESS_PER_SECOND: '3', LOG_SAMPLE_SUCCESS: '0' }, (l) =>
      lines.push(l)
    )
    for (let i = 0; i < 10; i++) await fetch(`${s.url}/api/builds?i=${i}`)
    // Ids no request id can contain by chance (a UUID is hex and dashes): the path is never logged.
    for (let i = 0; i < 5; i++) await fetch(`${s.url}/api/builds/path-id-not-logged-${i}`)
    const requests = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request')
    const ok = requests.filter((l) => l.status === 200)
    // At most 3 a second in full, none beyond (a second may turn during the loop: at most twice 3).
    expect(ok.length).toBeGreaterThanOrEqual(3)
    expect(ok.length).toBeLessThanOrEqual(6)
    expect(ok[0]).toMatchObject({ level: 'info', method: 'GET', route: '/api/builds', outcome: 'ok' })
    expect(typeof ok[0].durationMs).toBe('number')
    const errors = requests.filter((l) => l.status === 404)
    expect(errors).toHaveLength(5)
    expect(errors[0]).toMatchObject({ level: 'warn', route: '/api/builds/:id', outcome: 'client_error' })
    expect(new Set(requests.map((l) => l.requestId)).size).toBe(requests.length)
    expect(lines.join('\n')).not.toContain('path-id-not-logged')
  })

  it('never writes a secret, token, cookie or signature to the log', async () => {
    const secrets = {
      GITHUB_WEBHOOK_SECRET: 'gh-hook-secret-4f1b2c',
      GITLAB_WEBHOOK_TOKEN: 'gl-hook-token-93ad7e',
      GITLAB_WEBHOOK_SIGNING_TOKEN: `whsec_${Buffer.from('gl-signing-key-5e6f7a8b9c0d').toString('base64')}`,
      JENKINS_WEBHOOK_TOKEN: 'jenkins-token-77c1d0',
      GENERIC_WEBHOOK_TOKEN: 'generic-token-0b9e3a',
      CIRCLECI_WEBHOOK_SECRET: 'circle-secret-6a2f81',
      ADMIN_TOKEN: 'admin-token-d41c9e',
      METRICS_TOKEN: 'metrics-push-token-2e7b5f',
      METRICS_SCRAPE_TOKEN: 'metrics-scrape-token-8c3a1d',
    }
    const lines: string[] = []
    const s = await server({ LOG_LEVEL: 'debug', PUBLIC_DASHBOARD: 'false', ...secrets }, (l) => lines.push(l))
    const leaks: string[] = Object.values(secrets)
    const admin = bearer(secrets.ADMIN_TOKEN)
    const json = { 'content-type': 'application/json' }

    const gh = loadFixture('github', 'workflow_run-completed-failure-real')
    const ghSig = signGithub(gh.raw, secrets.GITHUB_WEBHOOK_SECRET)
    leaks.push(ghSig['X-Hub-Signature-256']!)
    expect(
      (
        await fetch(`${s.url}/hooks/github`, {
          method: 'POST',
          headers: { ...gh.headers, ...ghSig },
          body: new Uint8Array(gh.raw),
        })
      ).status
    ).toBe(200)
    const badSig = signGithub(gh.raw, 'not-the-secret')
    expect(
      (
        await fetch(`${s.url}/hooks/github`, {
          method: 'POST',
          headers: { ...gh.headers, ...badSig },
          body: new Uint8Array(gh.raw),
        })
      ).status
    ).toBe(401)
    const gl = loadFixture('gitlab', 'pipeline-success-docs-example')
    expect(
      (
        await fetch(`${s.url}/hooks/gitlab`, {
          method: 'POST',
          headers: { ...gl.headers, 'x-gitlab-token': secrets.GITLAB_WEBHOOK_TOKEN },
          body: new Uint8Array(gl.raw),
        })
      ).status
    ).toBeLessThan(300)
    const std = signStandard(gl.raw, secrets.GITLAB_WEBHOOK_SIGNING_TOKEN, 'msg-1')
    leaks.push(std['webhook-signature']!)
    expect(
      (
        await fetch(`${s.url}/hooks/gitlab`, {
          method: 'POST',
          headers: { ...gl.headers, ...std },
          body: new Uint8Array(gl.raw),
        })
      ).status
    ).toBeLessThan(300)
    const jk = loadFixture('jenkins', 'notification-completed-failure')
    expect(
      (
        await fetch(`${s.url}/hooks/jenkins?token=${secrets.JENKINS_WEBHOOK_TOKEN}`, {
          method: 'POST',
          headers: jk.headers,
          body: new Uint8Array(jk.raw),
        })
      ).status
    ).toBe(200)
    expect(
      (
        await fetch(`${s.url}/hooks/jenkins?token=wrong-${secrets.JENKINS_WEBHOOK_TOKEN}`, {
          method: 'POST',
          headers: jk.headers,
          body: new Uint8Array(jk.raw),
        })
      ).status
    ).toBe(401)
    const generic = JSON.stringify({ project: 'acme/web', status: 'success' })
    expect(
      (
        await fetch(`${s.url}/hooks/generic`, {
          method: 'POST',
          headers: { ...bearer(secrets.GENERIC_WEBHOOK_TOKEN), ...json },
          body: generic,
        })
      ).status
    ).toBe(200)
    expect(
      (
        await fetch(`${s.url}/hooks/circleci`, {
          method: 'POST',
          headers: { 'circleci-signature': `v1=${'0'.repeat(64)}`, ...json },
          body: '{}',
        })
      ).status
    ).toBe(401)

    const created = await fetch(`${s.url}/api/admin/tokens`, {
      method: 'POST',
      headers: { ...admin, ...json },
      body: JSON.stringify({ name: 'laptop', role: 'viewer' }),
    })
    expect(created.status).toBe(201)
    const viewer: string = (await created.json()).token
    leaks.push(viewer)
    const signedIn = await fetch(`${s.url}/auth/session`, {
      method: 'POST',
      headers: { ...json, origin: s.url },
      body: JSON.stringify({ token: viewer }),
    })
    expect(signedIn.status).toBe(200)
    const cookie = signedIn.headers.get('set-cookie')!.split(';')[0]!
    leaks.push(cookie.split('=')[1]!)
    expect((await fetch(`${s.url}/api/builds`, { headers: { cookie } })).status).toBe(200)
    expect((await fetch(`${s.url}/api/builds`, { headers: { cookie: `${cookie}x` } })).status).toBe(401)
    expect((await fetch(`${s.url}/api/builds`, { headers: bearer(viewer) })).status).toBe(200)
    expect((await fetch(`${s.url}/api/builds`, { headers: bearer(`${viewer}x`) })).status).toBe(401)
    expect(
      (
        await fetch(`${s.url}/api/metrics`, {
          method: 'POST',
          headers: { ...bearer(secrets.METRICS_TOKEN), ...json },
          body: JSON.stringify({ name: 'q', value: 1 }),
        })
      ).status
    ).toBe(202)
    expect((await fetch(`${s.url}/metrics`, { headers: bearer(secrets.METRICS_SCRAPE_TOKEN) })).status).toBe(200)
    expect((await fetch(`${s.url}/api/admin/tokens`, { headers: admin })).status).toBe(200)
    const ws = new WsTestClient(`${s.url.replace('http', 'ws')}/live?token=${secrets.ADMIN_TOKEN}`)
    cleanups.push(() => ws.close())
    await ws.opened.catch(() => {})

    // Every request above has its line (so the check below looked at something) ...
    const parsed = lines.map((l) => JSON.parse(l))
    const routes = parsed.filter((l) => l.msg === 'request').map((l) => `${l.method} ${l.route} ${l.status}`)
    expect(routes).toEqual(
      expect.arrayContaining([
        'POST /hooks/:provider 200',
        'POST /hooks/:provider 401',
        'POST /api/admin/tokens 201',
        'POST /auth/session 200',
        'GET /api/builds 200',
        'GET /api/builds 401',
        'POST /api/metrics 202',
        'GET /metrics 200',
      ])
    )
    // ... and none of it carries a secret, a token, a cookie or a signature.
    const all = lines.join('\n')
    for (const secret of leaks) expect(all, secret).not.toContain(secret)
  })
})
