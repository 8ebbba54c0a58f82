/**
 * The contract (contract/) parses what the real server says: every API answer the dashboard reads and
 * every live message type, from real signed webhooks, beacons and pushed metrics. A field the server
 * sends that the contract does not declare fails too (parsed output must equal what was sent), so the
 * contract and the server cannot drift apart unnoticed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { meSchema, pairingRequest, pairingStarted, screenRow, tokenInfo } from '../../contract/access.ts'
import { buildSchema, buildsPageSchema, pipelineTileSchema } from '../../contract/builds.ts'
import { EVENT_TYPES, liveMessage } from '../../contract/live.ts'
import { sitesAnswer, summarySchema } from '../../contract/metrics.ts'
import { ciCapability } from '../ci/index.ts'
import { createMetricsCapability } from '../metrics/index.ts'
import { loadFixture } from './fixtures.ts'
import { adminAuth, startTestServer, type TestServer, until, WsTestClient } from './harness.ts'
import { hookSecrets, SIGNERS } from './sign/index.ts'

const SECRET = 'contract-test-secret'
const SITE = 'shop.example.com'

/** Parses with the contract and insists nothing was dropped: the server sent exactly the declared shape. */
function exactly<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.parse(value)
  expect(parsed).toEqual(value)
  return parsed
}

let s: TestServer
let ws: WsTestClient
beforeAll(async () => {
  s = await startTestServer({ ...hookSecrets(SECRET), SITES: SITE }, undefined, [
    ciCapability,
    createMetricsCapability({ visitorsEveryMs: 50, vitalsEveryMs: 100 }),
  ])
  ws = new WsTestClient(`${s.url.replace('http', 'ws')}/live`)
  await until(() => ws.messages.length, 'snapshot')
})
afterAll(async () => {
  ws?.close()
  await s?.destroy()
})

async function deliver(name: string) {
  const f = loadFixture('github', name)
  const res = await fetch(`${s.url}/hooks/github`, {
    method: 'POST',
    headers: { ...f.headers, ...SIGNERS.github!(f.raw, SECRET) },
    body: new Uint8Array(f.raw),
  })
  expect(res.status).toBe(200)
}

function beacon(events: unknown[]) {
  return fetch(`${s.url}/api/collect`, {
    method: 'POST',
    headers: {
      'content-type': 'text/plain;charset=UTF-8',
      origin: `https://${SITE}`,
      'user-agent':
        'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36',
    },
    body: JSON.stringify({ site: SITE, width: 1280, events }),
  })
}

describe('the contract describes what the server sends', () => {
  it('every live message type, each parsed by contract/live.ts exactly', async () => {
    await deliver('workflow_run-requested-queued-real')
    await deliver('workflow_run-completed-success-real')
    expect((await beacon([{ type: 'pageview', path: '/' }])).status).toBe(202)
    expect(
      (await beacon([{ type: 'vital', path: '/', name: 'LCP', value: 1234, id: 'v1-contract', nav: 'navigate' }]))
        .status
    ).toBe(202)
    const push = await fetch(`${s.url}/api/metrics`, {
      method: 'POST',
      headers: { ...adminAuth, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'queue.depth', value: 3, unit: 'jobs', tags: { region: 'eu' }, warn: 10 }),
    })
    expect(push.status).toBeLessThan(300)

    const types = () => new Set(ws.messages.map((m) => m.type))
    await until(() => EVENT_TYPES.every((t) => types().has(t)), `one of each of ${EVENT_TYPES.join(', ')}`)
    for (const m of ws.messages) exactly(liveMessage, m)
    expect(ws.messages[0]!.type).toBe('snapshot')
  })

  it('a fresh snapshot carries every capability’s state in the declared shape', async () => {
    const fresh = new WsTestClient(`${s.url.replace('http', 'ws')}/live`)
    try {
      await until(() => fresh.messages.length, 'snapshot')
      const snap = exactly(liveMessage, fresh.messages[0])
      if (snap.type !== 'snapshot') throw new Error(`first message was ${snap.type}`)
      expect(snap.data.pipelines?.length).toBeGreaterThan(0)
      expect(snap.data.sites?.map((x) => x.site)).toEqual([SITE])
      expect(Object.keys(snap.data.metrics ?? {})).toContain('queue.depth')
    } finally {
      fresh.close()
    }
  })

  it('the API answers the dashboard reads', async () => {
    const get = async (path: string) => {
      const res = await fetch(`${s.url}${path}`)
      expect(res.status, path).toBe(200)
      return res.json()
    }
    const page = exactly(buildsPageSchema, await get('/api/builds'))
    expect(page.builds.length).toBeGreaterThan(0)
    exactly(buildSchema, await get(`/api/builds/${encodeURIComponent(page.builds[0]!.id)}`))
    exactly(z.object({ pipelines: z.array(pipelineTileSchema) }), await get('/api/pipelines'))
    exactly(meSchema, await get('/api/me'))
    exactly(sitesAnswer, await get('/api/sites'))
    exactly(summarySchema, await get(`/api/sites/${SITE}/summary`))
    exactly(summarySchema, await get(`/api/sites/${SITE}/summary?window=7d&device=desktop`))
  })

  it('the admin and pairing answers the access pages read', async () => {
    const post = (path: string, body: unknown, headers: Record<string, string> = adminAuth) =>
      fetch(`${s.url}${path}`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', origin: s.url },
        body: JSON.stringify(body),
      })
    expect((await post('/api/admin/tokens', { name: 'contract', role: 'viewer' })).status).toBe(201)
    const tokens = await (await fetch(`${s.url}/api/admin/tokens`, { headers: adminAuth })).json()
    exactly(z.object({ tokens: z.array(tokenInfo).min(1) }), tokens)

    const started = await post('/api/pair', {}, {})
    expect(started.status).toBe(201)
    const pairing = exactly(pairingStarted, await started.json())
    const described = await fetch(`${s.url}/api/pair/${pairing.code}`, { headers: adminAuth })
    exactly(pairingRequest, await described.json())
    const approved = await post('/api/pair/approve', { code: pairing.code, name: 'Lobby TV' })
    expect(approved.status).toBeLessThan(300)
    const screens = await (await fetch(`${s.url}/api/admin/screens`, { headers: adminAuth })).json()
    exactly(z.object({ screens: z.array(screenRow).length(1) }), screens)
  })
})
