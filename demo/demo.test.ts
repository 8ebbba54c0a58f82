/**
 * Keeps `npm run demo` honest: its generated deliveries, visitors and custom metrics are played
 * against a real server configured as the demo configures it, and must be accepted and produce the
 * intended board. No waiting loops: every request is awaited directly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestServer, type TestServer } from '../server/test/harness.ts'
import { PROVIDER_NAMES } from '../server/ci/registry.ts'
import { SIGNERS } from '../server/test/sign/index.ts'
import type { PipelineTile } from '../contract/builds.ts'
import { collectBody, customMetricsBody } from '../contract/metrics.ts'
import {
  customMetrics,
  Demo,
  DEMO_METRICS_TOKEN,
  DEMO_SECRET,
  DEMO_SITES,
  demoEnv,
  FAILING,
  PIPELINES,
  type HookResult,
} from './scenario.ts'
import { type DemoPipeline, GENERATORS } from './deliveries.ts'
import { arrive, collectPost, heartbeat, leave, navigate, newVisitor, type SimVisitor } from './visitors.ts'
import type { BeaconEvent } from '../contract/metrics.ts'

let s: TestServer
let demo: Demo
const said: string[] = []

beforeAll(async () => {
  const { LOG_LEVEL: _, ...env } = demoEnv()
  s = await startTestServer(env)
  demo = new Demo({
    url: s.url,
    secret: DEMO_SECRET,
    metricsToken: DEMO_METRICS_TOKEN,
    sites: DEMO_SITES,
    out: (l) => said.push(l),
  })
})
afterAll(() => s.destroy())

async function tiles(): Promise<PipelineTile[]> {
  const res = await fetch(`${s.url}/api/pipelines`)
  return ((await res.json()) as { pipelines: PipelineTile[] }).pipelines
}

const tileOf = (all: PipelineTile[], p: DemoPipeline) =>
  all.filter(
    (t) => t.provider === p.provider && t.project === p.project && t.pipeline === p.pipeline && t.branch === p.branch
  )

function expectStored(results: HookResult[], status: string) {
  for (const r of results) {
    expect(r.status, JSON.stringify(r.body)).toBe(200)
    expect(r.body.stored, JSON.stringify(r.body)).toBe(true)
  }
  expect(results.at(-1)?.body.status).toBe(status)
}

describe('the demo scenario', () => {
  it('plays registry providers only: every one it has a generator for, each signed by the test kit', () => {
    expect(Object.keys(GENERATORS).filter((name) => !PROVIDER_NAMES.includes(name))).toEqual([])
    const played = new Set(PIPELINES.map((p) => p.provider))
    expect(played).toEqual(new Set(PROVIDER_NAMES.filter((name) => name in GENERATORS)))
    for (const name of played) expect(SIGNERS[name], name).toBeTypeOf('function')
    expect(played.size).toBeGreaterThan(5)
  })

  it('plays a history: one tile per pipeline, the failing one red, the rest green, with medians', async () => {
    await demo.playHistory()
    expect(said.filter((l) => l.startsWith('!'))).toEqual([])
    const all = await tiles()
    expect(all).toHaveLength(PIPELINES.length)
    for (const p of PIPELINES) {
      const [t] = tileOf(all, p)
      expect(t, `${p.provider} ${p.project} ${p.pipeline} ${p.branch}`).toBeDefined()
      expect(t!.latest?.status).toBe(p === FAILING ? 'failure' : 'success')
      expect(t!.running).toBeNull()
      expect(t!.recent.length).toBeGreaterThanOrEqual(3)
      expect(t!.medianDurationMs).toBeGreaterThan(0)
      expect(t!.successRate).not.toBeNull()
    }
    const failing = tileOf(all, FAILING)[0]!
    expect(failing.brokenBy).toBe('lchen')
    expect(failing.brokenSince).not.toBeNull()
  })

  it.each(PIPELINES.map((p) => [`${p.provider} ${p.branch}`, p] as const))(
    '%s: running, then finished as intended',
    async (_, p) => {
      const b = demo.build(p, 'running', Date.now() - 2_000)
      b.startedAt = Date.now() - 1_000
      const started = await demo.deliver(b)
      // Azure DevOps' service hook only reports finished builds.
      if (p.provider === 'azure-devops') expect(started).toEqual([])
      else expectStored(started, 'running')

      const result = p === FAILING ? 'success' : 'failure'
      b.status = result
      b.finishedAt = Date.now()
      const done = await demo.deliver(b)
      expectStored(done, result)
      expect(done.find((r) => r.body.transition)?.body.transition).toBe(p === FAILING ? 'fixed' : 'broken')

      const all = await tiles()
      const matching = tileOf(all, p)
      expect(matching).toHaveLength(1)
      expect(matching[0]!.latest?.number ?? b.number).toBe(b.number)
      expect(matching[0]!.latest?.status).toBe(result)
      expect(matching[0]!.running).toBeNull()
      // No stray tiles (a start delivery naming the build differently would leave one behind).
      expect(all).toHaveLength(PIPELINES.length)
    }
  )

  it('sends visitors the collect endpoint accepts, counted as distinct live visitors', async () => {
    const now = Date.now()
    const visitors = [1, 2, 3, 4].map((n) => newVisitor(n, DEMO_SITES[0]!, now))
    const send = async (v: SimVisitor, events: BeaconEvent[]) => {
      const p = collectPost(v, events)
      expect(() => collectBody.parse(JSON.parse(p.body))).not.toThrow()
      const res = await fetch(`${s.url}/api/collect`, { method: 'POST', headers: p.headers, body: p.body })
      expect(res.status, await res.text()).toBe(202)
      expect(res.headers.get('x-radiator-dropped')).toBeNull()
    }
    for (const v of visitors) {
      await send(v, arrive(v))
      await send(v, heartbeat(v))
      const { leaving, arriving } = navigate(v, now)
      await send(v, leaving)
      // The next document loads a moment later (the demo waits 200–700 ms).
      await new Promise((r) => setTimeout(r, 5))
      await send(v, arriving)
    }
    const sites = (await (await fetch(`${s.url}/api/sites`)).json()) as { sites: { site: string; live: number }[] }
    expect(sites.sites.find((x) => x.site === DEMO_SITES[0])?.live).toBe(visitors.length)

    await send(visitors[0]!, leave(visitors[0]!))
  })

  it('pushes custom metrics the metrics endpoint accepts', async () => {
    const body = customMetrics(4, 0.83)
    expect(() => customMetricsBody.parse(body)).not.toThrow()
    const res = await fetch(`${s.url}/api/metrics`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${DEMO_METRICS_TOKEN}` },
      body: JSON.stringify(body),
    })
    expect(res.status, await res.text()).toBe(202)
  })
})
