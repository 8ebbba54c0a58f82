/**
 * Access control on a real server: the whole route table walked (every route declares exactly one
 * level, and every viewer/feed/push/admin route refuses an anonymous request, on all three live
 * transports too), tokens and their roles, the first-start sign-in link, sessions surviving a
 * restart, revocation closing live connections, CSRF and cross-site WebSocket, the auth proxy.
 */
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { ACCESS, APP_WIDE } from './guard.ts'
import type { AccessLevel } from './roles.ts'
import { perTest, SseTestClient, startTestServer, tempDir, type TestServer } from '../test/harness.ts'

const t = perTest()

const ADMIN = 'admin-secret-for-tests'
/** A closed server, as `npm start` runs it (the test harness opens viewers by default). */
const closed = (env: Parameters<typeof startTestServer>[0] = {}, dir?: string) =>
  t.server({ PUBLIC_DASHBOARD: 'false', ADMIN_TOKEN: ADMIN, METRICS_TOKEN: 'push-secret', ...env }, dir)
const bearer = (t: string) => ({ authorization: `Bearer ${t}` })
const basic = (t: string) => ({ authorization: `Basic ${Buffer.from(`ccmenu:${t}`).toString('base64')}` })

async function createToken(s: TestServer, role: string, name = `${role} token`): Promise<string> {
  const res = await fetch(`${s.url}/api/admin/tokens`, {
    method: 'POST',
    headers: { ...bearer(ADMIN), 'content-type': 'application/json' },
    body: JSON.stringify({ name, role }),
  })
  expect(res.status).toBe(201)
  return (await res.json()).token
}

/** A browser signed in with a new viewer token, with its WebSocket open; `closeCode` settles when it closes. */
async function liveWithTokenSession(s: TestServer) {
  const token = await createToken(s, 'viewer')
  const login = await fetch(`${s.url}/auth/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  })
  const cookie = login.headers.get('set-cookie')!.split(';')[0]!
  const ws = new WebSocket(`${s.url.replace('http', 'ws')}/live`, { headers: { cookie } })
  t.cleanup(() => ws.close())
  const closeCode = new Promise<number>((r) => ws.on('close', (c) => r(c)))
  await new Promise((r) => ws.once('message', r))
  return { cookie, closeCode }
}

/** The route table as the app holds it: method + path → the levels its handlers declare. */
function routeTable(s: TestServer) {
  const table = new Map<string, { method: string; path: string; levels: AccessLevel[]; firstIsGuard: boolean }>()
  for (const r of s.routes) {
    const h = r.handler as unknown as Record<symbol, unknown>
    if (h[APP_WIDE]) continue
    const key = `${r.method} ${r.path}`
    const e = table.get(key) ?? { method: r.method, path: r.path, levels: [], firstIsGuard: h[ACCESS] !== undefined }
    if (h[ACCESS] !== undefined) e.levels.push(h[ACCESS] as AccessLevel)
    table.set(key, e)
  }
  return [...table.values()]
}

describe('the route table', () => {
  it('gives every route exactly one access level, declared first', async () => {
    const s = await closed()
    const routes = routeTable(s)
    expect(routes.length).toBeGreaterThan(20)
    for (const r of routes) {
      expect(r.levels, `${r.method} ${r.path}`).toHaveLength(1)
      expect(r.firstIsGuard, `${r.method} ${r.path} checks access before anything else`).toBe(true)
    }
  })

  it('answers an anonymous request to every non-public route with 401', async () => {
    const s = await closed()
    const guarded = routeTable(s).filter((r) => r.levels[0] !== 'public')
    expect(guarded.map((r) => r.path)).toEqual(
      expect.arrayContaining(['/api/builds', '/live', '/live/sse', '/live/poll', '/cctray.xml', '/api/admin/tokens'])
    )
    for (const r of guarded) {
      const path = r.path.replace(/:[a-z]+/gi, 'x').replace(/\*/g, 'x')
      const method = r.method === 'ALL' ? 'GET' : r.method
      const res = await fetch(`${s.url}${path}`, {
        method,
        body: method === 'GET' ? undefined : '{}',
        headers: { 'content-type': 'application/json' },
      })
      expect(res.status, `${method} ${path}`).toBe(401)
      expect((await res.json()).code).toBe('UNAUTHORIZED')
      expect(res.headers.get('www-authenticate')).toMatch(/realm="Radiator"/)
    }
  })

  it('refuses an anonymous WebSocket upgrade and SSE stream, and tells strangers only up or down', async () => {
    const s = await closed()
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${s.url.replace('http', 'ws')}/live`)
      ws.on('unexpected-response', (_q, res) => resolve(res.statusCode!))
      ws.on('open', () => resolve(101))
      ws.on('error', () => {})
    })
    expect(status).toBe(401)
    const sse = new SseTestClient(`${s.url}/live/sse`)
    t.cleanup(() => sse.close())
    await sse.done
    expect(sse.status).toBe(401)
    expect(await (await fetch(`${s.url}/healthz`)).json()).toEqual({ status: 'ok' })
    expect(Object.keys(await (await fetch(`${s.url}/healthz`, { headers: bearer(ADMIN) })).json())).toContain('version')
  })
})

describe('tokens', () => {
  it('lets each role do what it may: viewer reads, metrics-push pushes, admin manages', async () => {
    const s = await closed()
    const viewer = await createToken(s, 'viewer', "CCMenu on Ana's Mac")
    const push = await createToken(s, 'metrics-push')
    expect((await fetch(`${s.url}/api/builds`, { headers: bearer(viewer) })).status).toBe(200)
    // cctray clients send a token as an HTTP Basic password.
    expect((await fetch(`${s.url}/cctray.xml`, { headers: basic(viewer) })).status).toBe(200)
    expect((await fetch(`${s.url}/api/admin/tokens`, { headers: bearer(viewer) })).status).toBe(403)
    expect((await fetch(`${s.url}/api/builds`, { headers: bearer(push) })).status).toBe(403)
    const pushed = await fetch(`${s.url}/api/metrics`, {
      method: 'POST',
      headers: { ...bearer(push), 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'queue.depth', value: 3 }),
    })
    expect(pushed.status).toBe(202)
    expect((await fetch(`${s.url}/api/builds`, { headers: bearer('rad_not-a-token') })).status).toBe(401)

    const list = await (await fetch(`${s.url}/api/admin/tokens`, { headers: bearer(ADMIN) })).json()
    const ana = list.tokens.find((t: { name: string }) => t.name === "CCMenu on Ana's Mac")
    expect(ana).toMatchObject({ role: 'viewer', revokedAt: null })
    expect(JSON.stringify(list)).not.toContain(viewer) // only hashes are kept
    expect(
      (await fetch(`${s.url}/api/admin/tokens/${ana.id}`, { method: 'DELETE', headers: bearer(ADMIN) })).status
    ).toBe(200)
    expect((await fetch(`${s.url}/api/builds`, { headers: bearer(viewer) })).status).toBe(401)
  })

  it('opens only the feeds with PUBLIC_FEEDS, and the whole viewer side with PUBLIC_DASHBOARD', async () => {
    const feeds = await closed({ PUBLIC_FEEDS: 'true' })
    expect((await fetch(`${feeds.url}/cctray.xml`)).status).toBe(200)
    expect((await fetch(`${feeds.url}/api/builds`)).status).toBe(401)
    const open = await closed({ PUBLIC_DASHBOARD: 'true' })
    expect((await fetch(`${open.url}/api/builds`)).status).toBe(200)
    expect((await fetch(`${open.url}/api/admin/tokens`)).status).toBe(401)
  })
})

describe('sessions', () => {
  it('signs in with the first-start link once, and the session survives a restart', async () => {
    const dir = tempDir()
    const s = await closed({ ADMIN_TOKEN: '' }, dir)
    expect(s.signinUrl).toMatch(/\/signin\?token=rsi_/)
    const res = await fetch(s.signinUrl!, { redirect: 'manual' })
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe('/')
    const setCookie = res.headers.get('set-cookie')!
    expect(setCookie).toMatch(/HttpOnly/)
    expect(setCookie).toMatch(/SameSite=Lax/)
    expect(setCookie).not.toMatch(/Secure/) // plain http here
    const cookie = setCookie.split(';')[0]!
    expect((await fetch(`${s.url}/api/admin/tokens`, { headers: { cookie } })).status).toBe(200)
    expect((await fetch(s.signinUrl!, { redirect: 'manual' })).status).toBe(401) // used up

    await t.stop(s)
    const again = await closed({ ADMIN_TOKEN: '' }, dir)
    expect(again.signinUrl).toBeNull() // an admin exists now
    expect((await fetch(`${again.url}/api/builds`, { headers: { cookie } })).status).toBe(200)
    const me = await (await fetch(`${again.url}/api/me`, { headers: { cookie } })).json()
    expect(me).toMatchObject({ signedIn: true, role: 'admin', via: 'session' })
  })

  it('marks the cookie Secure when the public URL is https', async () => {
    const s = await closed({ PUBLIC_URL: 'https://radiator.example.com' })
    const token = await createToken({ ...s, url: `http://127.0.0.1:${s.port}` }, 'viewer')
    const res = await fetch(`http://127.0.0.1:${s.port}/auth/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token }),
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('set-cookie')).toMatch(/; Secure/)
  })

  it('ends the sessions signed in with a token when the token is revoked', async () => {
    const s = await closed()
    const { cookie, closeCode: code } = await liveWithTokenSession(s)
    const list = await (await fetch(`${s.url}/api/admin/tokens`, { headers: bearer(ADMIN) })).json()
    const id = list.tokens.find((t: { name: string }) => t.name === 'viewer token').id
    expect((await fetch(`${s.url}/api/admin/tokens/${id}`, { method: 'DELETE', headers: bearer(ADMIN) })).status).toBe(
      200
    )
    expect(await code).toBe(4401)
    expect((await fetch(`${s.url}/api/builds`, { headers: { cookie } })).status).toBe(401)
  })

  it('closes the live connections of a revoked session with 4401', async () => {
    const s = await closed()
    const { cookie, closeCode: code } = await liveWithTokenSession(s)
    const sessions = await (await fetch(`${s.url}/api/admin/sessions`, { headers: bearer(ADMIN) })).json()
    const mine = sessions.sessions.find((x: { subject: string }) => x.subject === 'viewer token')
    expect(
      (await fetch(`${s.url}/api/admin/sessions/${mine.id}`, { method: 'DELETE', headers: bearer(ADMIN) })).status
    ).toBe(200)
    expect(await code).toBe(4401)
    expect((await fetch(`${s.url}/api/builds`, { headers: { cookie } })).status).toBe(401)
  })

  it('refuses a cookie-authenticated write and a WebSocket from another site', async () => {
    const s = await closed()
    const token = await createToken(s, 'admin')
    const login = await fetch(`${s.url}/auth/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token }),
    })
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!
    const write = (origin: string) =>
      fetch(`${s.url}/api/admin/tokens`, {
        method: 'POST',
        headers: { cookie, origin, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'x', role: 'viewer' }),
      })
    expect((await write('https://evil.example')).status).toBe(403)
    expect((await write(s.url)).status).toBe(201)

    const hijack = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${s.url.replace('http', 'ws')}/live`, {
        headers: { cookie, origin: 'https://evil.example' },
      })
      ws.on('unexpected-response', (_q, res) => resolve(res.statusCode!))
      ws.on('open', () => resolve(101))
      ws.on('error', () => {})
    })
    expect(hijack).toBe(403)
    const own = new WebSocket(`${s.url.replace('http', 'ws')}/live`, { headers: { cookie, origin: s.url } })
    t.cleanup(() => own.close())
    await new Promise((r) => own.once('message', r))
  })
})

describe('trusted auth proxy', () => {
  it('believes the user header only from the configured proxy addresses', async () => {
    const trusted = await closed({
      AUTH_PROXY_HEADER: 'X-Forwarded-Email',
      AUTH_PROXY_TRUSTED: '127.0.0.1',
      AUTH_PROXY_ADMINS: 'ana@example.com',
    })
    expect(
      (await fetch(`${trusted.url}/api/builds`, { headers: { 'x-forwarded-email': 'bo@example.com' } })).status
    ).toBe(200)
    expect(
      (await fetch(`${trusted.url}/api/admin/tokens`, { headers: { 'x-forwarded-email': 'bo@example.com' } })).status
    ).toBe(403)
    expect(
      (await fetch(`${trusted.url}/api/admin/tokens`, { headers: { 'x-forwarded-email': 'Ana@example.com' } })).status
    ).toBe(200)
    const untrusted = await closed({ AUTH_PROXY_HEADER: 'X-Forwarded-Email', AUTH_PROXY_TRUSTED: '10.9.8.7' })
    expect(
      (await fetch(`${untrusted.url}/api/builds`, { headers: { 'x-forwarded-email': 'bo@example.com' } })).status
    ).toBe(401)
  })
})

describe('npm run token', () => {
  // Against a cluster the CLI needs the cluster's environment: server/access/cluster.test.ts runs it there.
  it.skipIf(process.env.RADIATOR_TEST_ENGINE === 'pg')(
    'creates a token from the command line that the running server accepts, and revokes it',
    async () => {
      const { execFileSync } = await import('node:child_process')
      const dir = tempDir()
      const s = await closed({}, dir)
      const run = (...args: string[]) =>
        execFileSync(process.execPath, ['--import', 'tsx', 'server/access/cli.ts', ...args], {
          env: { ...process.env, DATA_DIR: dir },
          encoding: 'utf8',
        })
      const out = run('create', '--role', 'viewer', 'CCMenu on the CLI')
      const token = /^(rad_\S+)$/m.exec(out)![1]!
      const id = /^created (tok_\S+)/m.exec(out)![1]!
      expect((await fetch(`${s.url}/cctray.xml`, { headers: basic(token) })).status).toBe(200)
      expect(run('list')).toMatch(/viewer\s+active/)
      expect(run('revoke', id)).toMatch(/^revoked/)
      expect((await fetch(`${s.url}/cctray.xml`, { headers: basic(token) })).status).toBe(401)
    }
  )
})

describe('security headers', () => {
  it('sends a CSP with no inline script and frame-ancestors from FRAME_ANCESTORS, and keeps beacon.js loadable cross-origin', async () => {
    const s = await closed({ FRAME_ANCESTORS: "'self' https://wall.example.com", SITES: 'shop.example.com' })
    const page = await fetch(`${s.url}/tv`)
    const csp = page.headers.get('content-security-policy')!
    expect(csp).toMatch(/script-src 'self'(;|$)/)
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/)
    expect(csp).toMatch(/frame-ancestors 'self' https:\/\/wall\.example\.com/)
    expect(page.headers.get('x-content-type-options')).toBe('nosniff')
    expect(page.headers.get('referrer-policy')).toBe('no-referrer')
    const beacon = await fetch(`${s.url}/beacon.js`)
    expect(beacon.headers.get('cross-origin-resource-policy')).toBe('cross-origin')
    const api = await fetch(`${s.url}/api/builds`, { headers: bearer(ADMIN) })
    expect(api.headers.get('x-content-type-options')).toBe('nosniff')
  })

  it('refuses a FRAME_ANCESTORS value that is not a source list', async () => {
    await expect(startTestServer({ FRAME_ANCESTORS: 'javascript:alert(1)' })).rejects.toThrow(/FRAME_ANCESTORS/)
  })
})

describe('single sign-on configuration', () => {
  it('refuses to start with an issuer but no client, no rule for who may sign in, or plain http off loopback', async () => {
    const { loadConfig } = await import('../config.ts')
    const base = {
      OIDC_ISSUER: 'https://idp.example.com',
      OIDC_CLIENT_ID: 'r',
      OIDC_CLIENT_SECRET: 's',
      OIDC_ALLOWED_DOMAINS: 'acme.example',
    }
    expect(() => loadConfig(base)).not.toThrow()
    expect(() => loadConfig({ ...base, OIDC_CLIENT_SECRET: '' })).toThrow(/OIDC_CLIENT_SECRET/)
    expect(() => loadConfig({ ...base, OIDC_ALLOWED_DOMAINS: '' })).toThrow(/OIDC_ALLOWED_DOMAINS/)
    expect(() => loadConfig({ ...base, OIDC_ISSUER: 'http://idp.example.com' })).toThrow(/https/)
  })

  it('maps claims to roles: admin groups, viewer groups, verified e-mail domains only', async () => {
    const { roleFor } = await import('./oidc.ts')
    const { configFrom } = await import('../config.ts')
    const c = configFrom({
      OIDC_ISSUER: 'https://idp.example.com',
      OIDC_CLIENT_ID: 'r',
      OIDC_CLIENT_SECRET: 's',
      OIDC_ALLOWED_DOMAINS: 'acme.example',
      OIDC_ADMIN_GROUPS: 'ops',
      OIDC_VIEWER_GROUPS: 'dev',
    })
    expect(roleFor(c, { groups: ['ops'] })).toEqual({ role: 'admin' })
    expect(roleFor(c, { groups: 'dev' })).toEqual({ role: 'viewer' })
    expect(roleFor(c, { email: 'Bo@ACME.example', email_verified: true })).toEqual({ role: 'viewer' })
    expect(roleFor(c, { email: 'bo@acme.example', email_verified: false })).toHaveProperty('refused')
    expect(roleFor(c, { email: 'bo@acme.example.evil.com', email_verified: true })).toHaveProperty('refused')
  })
})

describe('failed credentials', () => {
  it('answers 429 once an address has tried too many wrong tokens, and renews a live session cookie on /api/me', async () => {
    const { AUTH_FAILURES_PER_MINUTE } = await import('./guard.ts')
    const s = await closed()
    const token = await createToken(s, 'viewer')
    let last = 0
    for (let i = 0; i <= AUTH_FAILURES_PER_MINUTE; i++)
      last = (await fetch(`${s.url}/api/builds`, { headers: bearer(`rad_guess-${i}`) })).status
    expect(last).toBe(429)
    // Anonymous requests without a credential are not failures, and other addresses are not affected:
    // here the same address, so even the right token waits out the minute.
    expect((await fetch(`${s.url}/api/builds`)).status).toBe(401)

    const other = await closed()
    const t2 = await createToken(other, 'viewer')
    const login = await fetch(`${other.url}/auth/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: t2 }),
    })
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!
    const me = await fetch(`${other.url}/api/me`, { headers: { cookie } })
    expect(me.headers.get('set-cookie')).toMatch(/^radiator_session=.*Max-Age=2592000/)
    const dead = await fetch(`${other.url}/api/me`, { headers: { cookie: 'radiator_session=ras_dead' } })
    expect(dead.headers.get('set-cookie')).toMatch(/^radiator_session=;/)
    expect(token).toBeTruthy()
  })
})
