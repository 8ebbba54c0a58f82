import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { XMLParser } from 'fast-xml-parser'
import { fixtureNames, fixtureProviders, loadFixture } from '../test/fixtures.ts'
import { adminAuth, startTestServer, until, WsTestClient, type TestServer } from '../test/harness.ts'
import { PROVIDER_NAMES, PROVIDERS, providerOf } from './registry.ts'
import * as github from '../test/sign/github.ts'
import * as buildkite from '../test/sign/buildkite.ts'
import { buildFinished, buildRunning, jobStarted } from '../test/buildkite-bodies.ts'
import { hookSecrets, SIGNERS } from '../test/sign/index.ts'
import { countOf, rowsOf } from '../test/metrics.ts'

const SECRET = 's3cret-for-tests'
const FIXTURE_PROVIDERS = PROVIDER_NAMES.filter((p) => fixtureProviders().includes(p))

let s: TestServer
beforeAll(async () => {
  s = await startTestServer({ ...hookSecrets(SECRET), GITHUB_WEBHOOK_SECRET: `old-secret,${SECRET}` })
})
afterAll(() => s.destroy())

function post(provider: string, raw: Buffer | string, headers: Record<string, string>) {
  return fetch(`${s.url}/hooks/${provider}`, {
    method: 'POST',
    headers,
    body: typeof raw === 'string' ? raw : new Uint8Array(raw),
  })
}

function signed(provider: string, f: { raw: Buffer; headers: Record<string, string> }, secret = SECRET) {
  return post(provider, f.raw, { ...f.headers, ...SIGNERS[provider]!(f.raw, secret) })
}

const rowCount = (table: string) => countOf(s, table)

describe('webhook routes with every real fixture', () => {
  it('has a registry provider for every fixture folder', () => {
    expect(fixtureProviders().filter((p) => !PROVIDER_NAMES.includes(p))).toEqual([])
    expect(FIXTURE_PROVIDERS.length).toBeGreaterThan(5)
  })

  it('has a test-kit signer for every registry provider, and none for anything else', () => {
    expect(Object.keys(SIGNERS).sort()).toEqual([...PROVIDER_NAMES].sort())
  })

  const cases: [string, string][] = FIXTURE_PROVIDERS.flatMap((p) =>
    fixtureNames(p).map((n): [string, string] => [p, n])
  )

  it.each(cases)(
    '%s/%s is verified, normalized and stored exactly as the provider file says',
    async (provider, name) => {
      const f = loadFixture(provider, name)
      const expected = providerOf(provider)!.normalize(
        {
          headers: new Headers(f.headers),
          raw: f.raw,
          url: new URL(`${s.url}/hooks/${provider}`),
          receivedAt: Date.now(),
        },
        f.body
      )
      const res = await signed(provider, f)
      const body = await res.json()
      if (expected.kind === 'ping') {
        expect(res.status).toBe(200)
        return
      }
      if (expected.kind === 'ignored') {
        expect(res.status).toBe(202)
        expect(body).toEqual({ ignored: expected.reason })
        return
      }
      expect(res.status).toBe(200)
      if (body.duplicate) return // a fixture that shares a delivery id with an earlier one
      expect(body.stored).toBe(true)
      const u = expected.update
      // A job whose build has not arrived waits for it: no build and no tile yet (arrival-order.test.ts).
      if (u.fromJob && body.status === null) return
      const build = await (await fetch(`${s.url}/api/builds/${encodeURIComponent(body.build)}`)).json()
      expect(build.provider).toBe(provider)
      expect(build.project).toBe(u.project)
      if (!u.fromJob) {
        expect(build.pipeline).toBe(u.pipeline)
        expect(build.branch).toBe(u.branch)
        expect(build.number).toBe(u.number)
        expect(build.commit).toEqual(u.commit)
        expect(build.actor).toBe(u.actor)
        expect(build.url).toBe(u.url)
      }
      expect(build.status).toBe(body.status)
      // A job event attaches its job (a later state of the same job may already be there).
      if (u.fromJob) expect(build.jobs.length).toBeGreaterThan(0)
      else for (const j of u.jobs) expect(build.jobs.map((x: { name: string }) => x.name)).toContain(j.name)
    }
  )
})

describe('rejected deliveries change nothing', () => {
  const f = () => loadFixture('github', 'workflow_run-completed-success')

  it('answers a wrong secret with 401 and stores no build', async () => {
    const before = await rowCount('builds')
    const res = await signed('github', f(), 'wrong')
    expect(res.status).toBe(401)
    expect((await res.json()).message).toMatch(/signature|does not match/i)
    expect(await rowCount('builds')).toBe(before)
  })

  it('answers a tampered body with 401', async () => {
    const fx = f()
    const headers = { ...fx.headers, ...github.sign(fx.raw, SECRET) }
    const tampered = Buffer.from(fx.raw)
    tampered[tampered.indexOf('success')] = 'S'.charCodeAt(0)
    expect((await post('github', tampered, headers)).status).toBe(401)
  })

  it('accepts either secret of a rotation list', async () => {
    const fx = loadFixture('github', 'workflow_run-requested-queued')
    const res = await post('github', fx.raw, {
      ...fx.headers,
      'x-github-delivery': 'rotation-1',
      ...github.sign(fx.raw, 'old-secret'),
    })
    expect(res.status).toBe(200)
  })

  it('names every secret variable of a provider that has none set, for each provider', async () => {
    const bare = await startTestServer()
    try {
      for (const p of PROVIDERS) {
        const res = await fetch(`${bare.url}/hooks/${p.name}`, { method: 'POST', body: '{}' })
        expect(res.status, p.name).toBe(401)
        const vars = Object.keys(p.secrets)
        expect((await res.json()).message, p.name).toBe(`no secret configured: set ${vars.join(' or ')}`)
      }
      expect(Object.keys(PROVIDERS.find((p) => p.name === 'gitlab')!.secrets)).toHaveLength(2)
    } finally {
      await bare.destroy()
    }
  })

  it("logs a refused delivery with the event its provider's header names", async () => {
    for (const p of PROVIDERS.filter((p) => p.eventHeaders.length > 0)) {
      const event = `${p.name}-refused-event`
      const res = await post(p.name, '{}', { [p.eventHeaders[0]!]: event })
      expect(res.status, p.name).toBe(401)
      const q = new URLSearchParams({ provider: p.name, outcome: 'rejected', limit: '1' })
      const { deliveries } = await (await fetch(`${s.url}/api/deliveries?${q}`, { headers: adminAuth })).json()
      expect(deliveries[0].event, p.name).toBe(event)
    }
  })

  it('answers repeated failed authentications from one address with 429, never a valid delivery', async () => {
    const limited = await startTestServer({ GITHUB_WEBHOOK_SECRET: SECRET, HOOK_AUTH_FAILURES_PER_MINUTE: '2' })
    try {
      const fx = f()
      const send = (secret: string, id: string) =>
        fetch(`${limited.url}/hooks/github`, {
          method: 'POST',
          headers: { ...fx.headers, 'x-github-delivery': id, ...github.sign(fx.raw, secret) },
          body: new Uint8Array(fx.raw),
        })
      expect((await send('guess-1', 'a')).status).toBe(401)
      expect((await send('guess-2', 'b')).status).toBe(401)
      const third = await send('guess-3', 'c')
      expect(third.status).toBe(429)
      expect(third.headers.get('retry-after')).toBe('60')
      expect((await send(SECRET, 'd')).status).toBe(200)
    } finally {
      await limited.destroy()
    }
  })

  it('answers a signed body that is not JSON with 400', async () => {
    const raw = Buffer.from('this is not json')
    const res = await post('github', raw, { 'x-github-event': 'workflow_run', ...github.sign(raw, SECRET) })
    expect(res.status).toBe(400)
    expect((await res.json()).message).toMatch(/JSON/)
  })

  it('answers a body without what the provider always sends with 400 and the reason', async () => {
    const raw = Buffer.from('{"action":"completed"}')
    const res = await post('github', raw, {
      'x-github-event': 'workflow_run',
      'x-github-delivery': 'x1',
      ...github.sign(raw, SECRET),
    })
    expect(res.status).toBe(400)
    expect((await res.json()).message).toMatch(/workflow_run/)
  })

  it('answers a body over 5 MB with 413', async () => {
    const raw = Buffer.alloc(5 * 1024 * 1024 + 10, 0x20)
    const res = await post('github', raw, { 'x-github-event': 'workflow_run', ...github.sign(raw, SECRET) })
    expect(res.status).toBe(413)
  })

  it('refuses a Buildkite signature older than five minutes', async () => {
    const raw = Buffer.from(buildRunning())
    const res = await post('buildkite', raw, {
      'x-buildkite-event': 'build.running',
      ...buildkite.sign(raw, SECRET, Date.now() - 6 * 60_000),
    })
    expect(res.status).toBe(401)
  })

  it('acknowledges a repeated delivery id with 200 {duplicate: true} and changes nothing', async () => {
    const fx = loadFixture('github', 'workflow_run-completed-failure-real')
    const headers = { ...fx.headers, 'x-github-delivery': 'dup-test-1', ...github.sign(fx.raw, SECRET) }
    expect((await post('github', fx.raw, headers)).status).toBe(200)
    // Persisted events are counted, not the hub's head: in a cluster that moves when the stream delivers.
    const events = await rowCount('events')
    const builds = await rowCount('builds')
    const res = await post('github', fx.raw, headers)
    expect(await res.json()).toEqual({ duplicate: true })
    expect(await rowCount('events')).toBe(events)
    expect(await rowCount('builds')).toBe(builds)
  })

  it('logs every delivery with its outcome at GET /api/deliveries', async () => {
    const { deliveries } = await (await fetch(`${s.url}/api/deliveries?limit=500`, { headers: adminAuth })).json()
    const outcomes = new Set(deliveries.map((d: { outcome: string }) => d.outcome))
    for (const o of ['stored', 'duplicate', 'ignored', 'rejected', 'ping']) expect(outcomes).toContain(o)
    // Signatures and tokens are never written with the raw bodies.
    const headers = await rowsOf<{ headers: string }>(s, 'SELECT headers FROM raw_bodies')
    expect(headers.length).toBeGreaterThan(0)
    for (const h of headers) expect(h.headers).not.toMatch(/signature|authorization|token/i)
  })
})

describe('ordering, re-runs and transitions', () => {
  async function generic(body: Record<string, unknown>) {
    const res = await fetch(`${s.url}/hooks/generic`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' },
      body: JSON.stringify({ project: 'acme/order', pipeline: 'ci', branch: 'main', ...body }),
    })
    expect(res.status).toBe(200)
    return res.json()
  }

  it('keeps a build whose id or names carry a lone surrogate escape findable by its id', async () => {
    // JSON.stringify writes a lone surrogate as the escape \udc00, the way a hostile CI can send it.
    const r = await generic({ id: 'lone-\udc00-id', project: 'acme/\ud800-order', status: 'running' })
    expect(r.build).toBe('generic:lone-\ufffd-id')
    const res = await fetch(`${s.url}/api/builds/${encodeURIComponent(r.build)}`)
    expect(res.status).toBe(200)
    expect((await res.json()).project).toBe('acme/\ufffd-order')
  })

  it('never moves a finished build back to running when a late in_progress arrives', async () => {
    await generic({
      id: 'o1',
      status: 'failure',
      startedAt: '2026-01-01T10:00:00Z',
      finishedAt: '2026-01-01T10:05:00Z',
    })
    const late = await generic({ id: 'o1', status: 'running', startedAt: '2026-01-01T10:00:00Z' })
    expect(late.status).toBe('failure')
  })

  it('treats a re-run as a new attempt of the same build with its own timing', async () => {
    const r = await generic({ id: 'o1', attempt: 2, status: 'running', startedAt: '2026-01-01T11:00:00Z' })
    expect(r.build).toBe('generic:o1')
    expect(r.status).toBe('running')
    const b = await (await fetch(`${s.url}/api/builds/generic:o1`)).json()
    expect(b.attempt).toBe(2)
    expect(b.startedAt).toBe('2026-01-01T11:00:00.000Z')
    expect(b.finishedAt).toBeNull()
    // A delivery for the old attempt arriving now is superseded.
    const old = await generic({ id: 'o1', attempt: 1, status: 'success', finishedAt: '2026-01-01T10:06:00Z' })
    expect(old.outcome).toBe('superseded')
  })

  it('pushes build.finished with the transition to a connected client, and replays it to a later one', async () => {
    const early = new WsTestClient(`${s.url.replace('http', 'ws')}/live?topics=builds`)
    await until(() => early.events().length, 'snapshot')
    const since = s.hub.head
    const r = await generic({
      id: 'o1',
      attempt: 2,
      status: 'success',
      finishedAt: '2026-01-01T11:04:00Z',
      actor: 'bob',
    })
    expect(r.transition).toBe('fixed')
    const fin = await until(() => early.events().find((m) => m.type === 'build.finished'), 'build.finished')
    expect(fin.data.transition).toBe('fixed')
    expect(fin.data.build.id).toBe('generic:o1')
    expect(fin.data.pipeline.fixedBy).toBe('bob')
    early.close()

    const late = new WsTestClient(`${s.url.replace('http', 'ws')}/live?since=${since}`)
    const replayed = await until(() => late.events().find((m) => m.id === fin.id), 'replayed build.finished')
    expect(replayed.id).toBe(fin.id)
    expect(replayed.data.transition).toBe('fixed')
    late.close()
  })

  it('says broken, still_failing, fixed and passed across consecutive builds, and who broke it', async () => {
    const seq = [
      ['t1', 'success', 'passed'],
      ['t2', 'failure', 'broken'],
      ['t3', 'failure', 'still_failing'],
      ['t4', 'canceled', 'canceled'],
      ['t5', 'success', 'fixed'],
    ] as const
    let minute = 0
    for (const [id, status, transition] of seq) {
      const at = `2026-02-01T10:${String(minute++).padStart(2, '0')}:00Z`
      const r = await generic({ id, status, project: 'acme/seq', actor: `dev-${id}`, finishedAt: at })
      expect(r.transition).toBe(transition)
      if (id === 't3') {
        const { pipelines } = await (await fetch(`${s.url}/api/pipelines`)).json()
        const tile = pipelines.find((p: { project: string }) => p.project === 'acme/seq')
        expect(tile.brokenBy).toBe('dev-t2')
        expect(tile.brokenSince).toBe('2026-02-01T10:01:00.000Z')
      }
    }
  })

  it('builds a tile from job events without creating tiles of their own', async () => {
    const before = (await (await fetch(`${s.url}/api/pipelines`)).json()).pipelines.length
    const raw = Buffer.from(jobStarted())
    const res = await post('buildkite', raw, { 'x-buildkite-event': 'job.started', ...buildkite.sign(raw, SECRET) })
    expect(res.status).toBe(200)
    const fin = Buffer.from(buildFinished('passed'))
    await post('buildkite', fin, { 'x-buildkite-event': 'build.finished', ...buildkite.sign(fin, SECRET) })
    const after = (await (await fetch(`${s.url}/api/pipelines`)).json()).pipelines.length
    expect(after - before).toBeLessThanOrEqual(1)
  })
})

describe('feeds', () => {
  it('serves cctray.xml that a CCMenu-style XML parser reads', async () => {
    const res = await fetch(`${s.url}/cctray.xml`)
    expect(res.headers.get('content-type')).toMatch(/application\/xml/)
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(await res.text())
    const projects = [doc.Projects.Project].flat()
    expect(projects.length).toBeGreaterThan(3)
    for (const p of projects) {
      expect(['Sleeping', 'Building']).toContain(p.activity)
      expect(['Success', 'Failure', 'Exception', 'Unknown']).toContain(p.lastBuildStatus)
      expect(p.lastBuildTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/)
      expect(p.webUrl).toMatch(/^https?:\/\//)
      expect(p.lastBuildLabel).toBeTruthy()
    }
    const seq = projects.find((p) => p.name === 'acme/seq :: ci :: main')
    // t4 was canceled: cctray keeps the previous status; t5 then fixed it.
    expect(seq.lastBuildStatus).toBe('Success')
    const filtered = new XMLParser({ ignoreAttributes: false }).parse(
      await (await fetch(`${s.url}/cctray.xml?project=acme/seq`)).text()
    )
    expect([filtered.Projects.Project].flat()).toHaveLength(1)
  })

  it('serves an SVG badge with an ETag and 304 on revalidation, and shields.io JSON', async () => {
    const res = await fetch(`${s.url}/badge.svg?project=acme/seq`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/image\/svg\+xml/)
    const svg = await res.text()
    expect(svg).toContain('passing')
    const etag = res.headers.get('etag')!
    expect((await fetch(`${s.url}/badge.svg?project=acme/seq`, { headers: { 'if-none-match': etag } })).status).toBe(
      304
    )
    expect(await (await fetch(`${s.url}/badge.json?project=acme/seq`)).json()).toEqual({
      schemaVersion: 1,
      label: 'build',
      message: 'passing',
      color: 'brightgreen',
    })
    expect((await fetch(`${s.url}/badge.svg`)).status).toBe(400)
    const unknown = await (await fetch(`${s.url}/badge.json?project=nope/nope`)).json()
    expect(unknown.message).toBe('unknown')
  })

  it('escapes untrusted names in the XML feed', async () => {
    await fetch(`${s.url}/hooks/generic`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SECRET}` },
      body: JSON.stringify({ project: 'evil/"<x>&', status: 'success', branch: "b'<script>" }),
    })
    const xml = await (await fetch(`${s.url}/cctray.xml?project=${encodeURIComponent('evil/"<x>&')}`)).text()
    expect(xml).not.toContain('<x>')
    expect(xml).not.toContain('<script>')
    const p = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(xml).Projects.Project
    expect(p.name).toBe(`evil/"<x>& :: build :: b'<script>`)
  })
})
