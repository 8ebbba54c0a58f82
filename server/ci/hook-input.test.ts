/**
 * Hostile and broken input on every webhook route: real fixtures with fields removed, retyped,
 * nulled or set to extreme numbers and strings (times above all), signed as the provider signs,
 * posted to a real server. Whatever comes in: never a 5xx, and what is stored never breaks an answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { fixtureNames, fixtureProviders, loadFixture } from '../test/fixtures.ts'
import { startTestServer, type TestServer } from '../test/harness.ts'
import { buildSchema, pipelineTileSchema } from '../../contract/builds.ts'
import { readsFor } from './reads.ts'
import { buildEvent, buildFinished, buildObject, jobFinished, jobStarted } from '../test/buildkite-bodies.ts'
import { hookSecrets, SIGNERS } from '../test/sign/index.ts'

const SECRET = 'fuzz-secret'

interface Sample {
  provider: string
  name: string
  body: any
  headers: Record<string, string>
}

const lower = (h: Record<string, string>) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]))

/** Every provider's real deliveries (Gitea's are GitHub's bodies; Buildkite's are assembled). */
function samples(): Sample[] {
  const out: Sample[] = []
  // Buildkite's one fixture is a ping: its build and job bodies are assembled below instead.
  for (const provider of fixtureProviders().filter((p) => p !== 'buildkite')) {
    for (const name of fixtureNames(provider)) {
      const f = loadFixture(provider, name)
      out.push({ provider, name, body: f.body, headers: lower(f.headers) })
    }
  }
  for (const name of ['workflow_run-completed-success', 'workflow_job-in_progress']) {
    const f = loadFixture('github', name)
    out.push({ provider: 'gitea', name, body: f.body, headers: { 'x-gitea-event': name.split('-')[0]! } })
  }
  const bk = {
    'build.running': buildEvent('build.running', buildObject('running')),
    'build.finished': buildFinished('failed'),
    'job.started': jobStarted(),
    'job.finished': jobFinished(),
  }
  for (const [event, raw] of Object.entries(bk))
    out.push({ provider: 'buildkite', name: event, body: JSON.parse(raw), headers: { 'x-buildkite-event': event } })
  out.push({
    provider: 'generic',
    name: 'deploy',
    headers: {},
    body: {
      id: 'deploy-1',
      project: 'acme/web',
      status: 'success',
      startedAt: '2026-11-24T10:00:00Z',
      finishedAt: '2026-11-24T10:03:12Z',
      jobs: [{ name: 'ship', status: 'success' }],
    },
  })
  return out
}
const SAMPLES = samples()
const PROVIDERS = [...new Set(SAMPLES.map((s) => s.provider))]

let s: TestServer
beforeAll(async () => {
  s = await startTestServer(hookSecrets(SECRET))
})
afterAll(() => s.destroy())

let sent = 0
async function post(sample: Sample, body: unknown) {
  const raw = Buffer.from(JSON.stringify(body) ?? 'null')
  // A fresh delivery id each time, so no case is answered as a duplicate of an earlier one.
  const ids = {
    'x-github-delivery': `fuzz-${++sent}`,
    'x-gitea-delivery': `fuzz-${sent}`,
    'idempotency-key': `fuzz-${sent}`,
  }
  const res = await fetch(`${s.url}/hooks/${sample.provider}`, {
    method: 'POST',
    headers: { ...sample.headers, ...ids, ...SIGNERS[sample.provider]!(raw, SECRET) },
    body: new Uint8Array(raw),
  })
  return { status: res.status, text: await res.text() }
}

/**
 * The answers a screen or CCMenu asks for must still come, whatever was stored: every build and
 * tile as the API serializes them fits its schema, and the routes answer (401/403 only where
 * access control asks for a credential; never a 5xx).
 */
async function expectApiAnswers() {
  const store = readsFor(s.engine)
  for (const t of await store.tiles()) expect(() => pipelineTileSchema.parse(t), t.id).not.toThrow()
  for (const r of await store.builds({ limit: 1_000_000 })) {
    const b = await store.build(r.id)
    expect(() => buildSchema.parse(b), r.id).not.toThrow()
  }
  for (const path of ['/api/builds?limit=200', '/api/pipelines', '/cctray.xml']) {
    const res = await fetch(`${s.url}${path}`)
    expect([200, 401, 403], `${path}: ${(await res.text()).slice(0, 300)}`).toContain(res.status)
  }
}

const TIME_KEY = /(_at|_on|At|Date|Time|time|timestamp|^created$|^updated$|^started$|^finished$|^stopped$)$/

/** Dotted paths of every value in `body` (array items by index), at most `max`. */
function paths(body: unknown, max = 400): string[][] {
  const out: string[][] = []
  const walk = (v: unknown, at: string[]) => {
    if (out.length >= max) return
    if (at.length) out.push(at)
    if (v && typeof v === 'object') for (const [k, c] of Object.entries(v).slice(0, 40)) walk(c, [...at, k])
  }
  walk(body, [])
  return out
}

const REMOVE = Symbol('remove')
function mutate(body: any, path: string[], value: unknown): any {
  const copy = structuredClone(body)
  const parent = path.slice(0, -1).reduce((o, k) => o?.[k], copy)
  if (parent && typeof parent === 'object') {
    if (value === REMOVE) delete parent[path.at(-1)!]
    else parent[path.at(-1)!] = value
  }
  return copy
}

const extremeTime = fc.constantFrom<unknown>(
  1e300,
  -1e300,
  8.64e15,
  8.64e15 + 1,
  1e21,
  Number.MAX_SAFE_INTEGER + 2,
  Number.MAX_VALUE,
  -1,
  0,
  0.5,
  1e12 - 1,
  '',
  ' ',
  '9'.repeat(16),
  '9'.repeat(400),
  '1e300',
  'yesterday',
  '2024-02-30T00:00:00Z',
  '2024-01-01T24:00:00Z',
  '2024-01-01T10:00:00',
  '2024-01-01 10:00:00',
  '+275760-09-13T00:00:00.000Z',
  '-271821-04-20T00:00:00Z',
  '0001-01-01T00:00:00Z',
  '9999-12-31T23:59:59Z',
  '2024-01-01T10:00:00+99:99',
  '2024-12-18 17:23:29.3 +0000 UTC',
  'Thu, 01 Jan 1970 00:00:00 GMT',
  '\u0000',
  '\ud800',
  [],
  {},
  true
)
const hostile = fc.oneof(
  extremeTime,
  fc.constantFrom<unknown>(REMOVE, null, 'constructor', '__proto__', 'x'.repeat(5000), -0, NaN, 3.5, [null], {
    id: null,
  }),
  fc.jsonValue({ maxDepth: 2 })
)

/** A delivery with 1–4 fields changed, each picked among all paths or among time-like ones. */
const mutated = (provider: string) => {
  const own = SAMPLES.filter((x) => x.provider === provider)
  return fc.constantFrom(...own).chain((sample) => {
    const all = paths(sample.body)
    const times = all.filter((p) => TIME_KEY.test(p.at(-1)!))
    const change = fc.oneof(
      fc.tuple(fc.constantFrom(...all), hostile),
      ...(times.length ? [fc.tuple(fc.constantFrom(...times), extremeTime)] : [])
    )
    return fc.array(change, { minLength: 1, maxLength: 4 }).map((changes) => {
      const said = changes.map(
        ([p, v]) => `${p.join('.')}=${typeof v === 'symbol' ? '(removed)' : JSON.stringify(v)?.slice(0, 40)}`
      )
      return {
        sample,
        body: changes.reduce((b, [p, v]) => mutate(b, p, v), sample.body),
        // A counterexample reads as the fixture and its changes, not two whole bodies.
        [fc.toStringMethod]: () => `${sample.provider}/${sample.name}: ${said.join(', ')}`,
      }
    })
  })
}

describe('webhook input fuzzing', () => {
  it.each(PROVIDERS)('%s: a mutated real delivery is never a 5xx and never breaks an API answer', async (provider) => {
    await fc.assert(
      fc.asyncProperty(mutated(provider), async ({ sample, body }) => {
        const r = await post(sample, body)
        expect(r.status, r.text.slice(0, 300)).toBeLessThan(500)
        if (r.status === 400) expect(JSON.parse(r.text).message).toBeTruthy()
        await expectApiAnswers()
      }),
      { numRuns: 25 }
    )
  })

  // Each a time the provider always sends: a value no Date can hold is refused, naming the field.
  const GUARANTEED: [provider: string, name: string, path: string][] = [
    ['github', 'workflow_run-completed-success', 'workflow_run.updated_at'],
    ['github', 'workflow_run-completed-success', 'workflow_run.created_at'],
    ['gitea', 'workflow_run-completed-success', 'workflow_run.updated_at'],
    ['gitlab', 'pipeline-success-docs-example-v16', 'object_attributes.created_at'],
    ['circleci', 'workflow-completed-success-github-app', 'happened_at'],
    ['buildkite', 'build.finished', 'build.created_at'],
    ['bitbucket', 'repo-commit_status_updated-successful', 'commit_status.updated_on'],
    ['bitbucket', 'repo-commit_status_updated-successful', 'commit_status.created_on'],
    ['azure-devops', 'build.complete-succeeded-docs-example', 'createdDate'],
    ['drone', 'build-completed', 'build.updated'],
    ['drone', 'build-created', 'build.created'],
    ['jenkins', 'notification-started', 'build.timestamp'],
  ]
  it.each(GUARANTEED)('%s %s: %s out of any Date range is a 400 naming it', async (provider, name, path) => {
    const sample = SAMPLES.find((x) => x.provider === provider && x.name === name)!
    for (const value of [1e300, 8.64e15 + 1, '99999999999999999999', '2024-02-30T00:00:00Z']) {
      const r = await post(sample, mutate(sample.body, path.split('.'), value))
      expect(r.status, `${JSON.stringify(value)}: ${r.text}`).toBe(400)
      expect(JSON.parse(r.text).message).toContain(path)
    }
    await expectApiAnswers()
  })

  it('refuses a generic build with a time it cannot read, naming the field', async () => {
    const sample = SAMPLES.find((x) => x.provider === 'generic')!
    const r = await post(sample, { ...sample.body, finishedAt: '2024-02-30T00:00:00Z' })
    expect(r.status).toBe(400)
    expect(JSON.parse(r.text).message).toContain('finishedAt')
  })
})
