import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Build, PipelineTile } from '../../contract/builds.ts'
import { dbOf } from '../db/client.ts'
import { runAsync, runSync, type Step } from '../db/steps.ts'
import { adminAuth, startTestServer, type TestServer } from '../test/harness.ts'
import { DeliveryLogic, deliveryStatements, sqliteDeliverySteps } from './ingest.ts'
import { type BuildUpdate, emptyUpdate } from './model.ts'
import { pgDeliverySteps, pgSteps } from './pg-steps.ts'
import { BuildLogic, BuildStore, NO_TILE_CACHE } from './store.ts'

let s: TestServer
/** Recent: older rows would be the retention sweep's to delete. */
const T0 = Date.now() - 3600_000

/** Builds on two projects and branches; some stored in the same millisecond, so ids break the tie. */
const SEED: { id: string; project: string; branch: string; status: BuildUpdate['status']; at: number }[] = [
  { id: '1', project: 'acme/web', branch: 'main', status: 'success', at: T0 },
  { id: '2', project: 'acme/web', branch: 'main', status: 'failure', at: T0 + 1 },
  { id: '3', project: 'acme/web', branch: 'dev', status: 'running', at: T0 + 1 },
  { id: '4', project: 'acme/api', branch: 'main', status: 'success', at: T0 + 1 },
  { id: '5', project: 'acme/api', branch: 'dev', status: 'queued', at: T0 + 2 },
  { id: '6', project: 'acme/api', branch: 'main', status: 'failure', at: T0 + 3 },
  { id: '7', project: 'acme/web', branch: 'main', status: 'success', at: T0 + 3 },
]

/** The seed, written once for both engines' statements (server/db/steps.ts). */
function* seed(builds: BuildLogic, log: DeliveryLogic): Step<void> {
  for (const b of SEED) {
    const u = { ...emptyUpdate('github', b.id, b.project), pipeline: 'ci', branch: b.branch, status: b.status }
    yield* builds.apply(u, b.at)
  }
  const info = (provider: string, n: number) => ({
    provider,
    event: 'push',
    deliveryId: `d${n}`,
    receivedAt: T0 + n,
    size: 100 + n,
  })
  yield* log.log(info('github', 1), 'stored', null, 'github:1')
  yield* log.log(info('gitlab', 2), 'ignored', 'not a pipeline event')
  yield* log.log(info('github', 3), 'duplicate', 'delivery id already applied')
  yield* log.log(info('github', 4), 'stored', null, 'github:2')
  yield* log.log(info('gitlab', 5), 'stored', null)
}

beforeAll(async () => {
  s = await startTestServer()
  const e = s.engine
  if (e.kind === 'sqlite') {
    const builds = new BuildStore(e.store.sqlite).logic
    const log = new DeliveryLogic(sqliteDeliverySteps(deliveryStatements(dbOf(e.store.sqlite))), builds)
    await e.writer.write(() => runSync(seed(builds, log)))
  } else
    await e.writer.write((tx) => {
      const builds = new BuildLogic(pgSteps(tx), NO_TILE_CACHE)
      return runAsync(seed(builds, new DeliveryLogic(pgDeliverySteps(tx), builds)))
    })
})
afterAll(() => s.destroy())

async function get<T>(path: string, headers: Record<string, string> = {}): Promise<T> {
  const res = await fetch(`${s.url}${path}`, { headers })
  expect(res.status, path).toBe(200)
  return (await res.json()) as T
}

/** Every page of a list, following nextCursor. */
async function pages<T>(path: string, key: string, headers?: Record<string, string>): Promise<T[][]> {
  const out: T[][] = []
  let cursor: string | number | null = null
  do {
    const sep = path.includes('?') ? '&' : '?'
    const page: Record<string, unknown> = await get(
      cursor === null ? path : `${path}${sep}cursor=${encodeURIComponent(cursor)}`,
      headers
    )
    out.push(page[key] as T[])
    cursor = page.nextCursor as string | number | null
  } while (cursor !== null && out.length < 20)
  return out
}

describe('GET /api/builds', () => {
  it('lists builds newest first (id breaks a tie), page by page through the cursor', async () => {
    const all = await pages<Build>('/api/builds?limit=3', 'builds')
    expect(all.map((p) => p.length)).toEqual([3, 3, 1])
    expect(all.flat().map((b) => b.id)).toEqual([
      'github:7',
      'github:6',
      'github:5',
      'github:4',
      'github:3',
      'github:2',
      'github:1',
    ])
    expect(all.flat()[0]).toMatchObject({
      project: 'acme/web',
      branch: 'main',
      status: 'success',
      updatedAt: new Date(T0 + 3).toISOString(),
    })
  })

  it('filters by project, branch, status, provider and tile, together', async () => {
    const ids = async (q: string) => (await get<{ builds: Build[] }>(`/api/builds?${q}`)).builds.map((b) => b.id)
    expect(await ids('project=acme/api')).toEqual(['github:6', 'github:5', 'github:4'])
    expect(await ids('branch=dev')).toEqual(['github:5', 'github:3'])
    expect(await ids('status=failure')).toEqual(['github:6', 'github:2'])
    expect(await ids('project=acme/web&branch=main&status=success')).toEqual(['github:7', 'github:1'])
    expect(await ids('provider=gitlab')).toEqual([])
    expect(await ids(`pipelineId=${await tileOf('acme/web', 'dev')}`)).toEqual(['github:3'])
  })
})

async function tileOf(project: string, branch: string): Promise<string> {
  const { pipelines } = await get<{ pipelines: PipelineTile[] }>('/api/pipelines')
  return pipelines.find((t) => t.project === project && t.branch === branch)!.id
}

describe('GET /api/deliveries', () => {
  it('lists deliveries newest first, page by page, each as logged', async () => {
    const all = await pages<Record<string, unknown>>('/api/deliveries?limit=2', 'deliveries', adminAuth)
    expect(all.map((p) => p.length)).toEqual([2, 2, 1])
    expect(all.flat().map((d) => d.deliveryId)).toEqual(['d5', 'd4', 'd3', 'd2', 'd1'])
    expect(all.flat()[3]).toEqual({
      id: expect.any(Number),
      provider: 'gitlab',
      event: 'push',
      deliveryId: 'd2',
      receivedAt: new Date(T0 + 2).toISOString(),
      outcome: 'ignored',
      reason: 'not a pipeline event',
      size: 102,
      buildId: null,
    })
  })

  it('filters by provider and outcome', async () => {
    const ids = async (q: string) =>
      (await get<{ deliveries: { deliveryId: string }[] }>(`/api/deliveries?${q}`, adminAuth)).deliveries.map(
        (d) => d.deliveryId
      )
    expect(await ids('provider=gitlab')).toEqual(['d5', 'd2'])
    expect(await ids('outcome=stored')).toEqual(['d5', 'd4', 'd1'])
    expect(await ids('provider=github&outcome=stored')).toEqual(['d4', 'd1'])
  })
})
