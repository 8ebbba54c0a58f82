/**
 * Deliveries of one run arrive in any order: the builds and tiles they leave must not depend on it.
 * Each scenario is one run's real deliveries (fixtures; job fixtures of another run are pointed at
 * this run's id), posted signed to a fresh real server in every order fast-check picks; the result
 * is read from the store the API serves.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { loadFixture } from '../test/fixtures.ts'
import { startTestServer, TEST_ENGINE } from '../test/harness.ts'
import * as github from '../test/sign/github.ts'
import type { Engine } from '../db/engine.ts'
import { readsFor } from './reads.ts'
import {
  buildEvent,
  buildFinished,
  buildObject,
  jobEvent,
  jobFinished,
  jobObject,
  jobStarted,
} from '../test/buildkite-bodies.ts'
import { hookSecrets, SIGNERS } from '../test/sign/index.ts'

const SECRET = 'order-secret'
const ENV = hookSecrets(SECRET)

interface Send {
  provider: string
  body: unknown
  headers: Record<string, string>
}

/** Header names lower-cased, so an override replaces a fixture's header instead of joining it. */
const lower = (h: Record<string, string>) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]))

function fixture(
  provider: string,
  name: string,
  change: (body: any) => void = () => {},
  headers: Record<string, string> = {}
): Send {
  const f = loadFixture(provider, name)
  change(f.body)
  return { provider, body: f.body, headers: { ...lower(f.headers), ...headers } }
}

const RUN = 289782451
/** The run's own deliveries, then its jobs: real jobs of another run, pointed at this one. */
function actionsRun(): Send[] {
  const job = (name: string, id: string) =>
    fixture('github', name, (b) => Object.assign(b.workflow_job, { run_id: RUN, run_attempt: 1 }), {
      'x-github-delivery': id,
    })
  return [
    fixture('github', 'workflow_run-requested-queued', () => {}, { 'x-github-delivery': 'run-1' }),
    fixture('github', 'workflow_run-completed-success', () => {}, { 'x-github-delivery': 'run-2' }),
    job('workflow_job-queued', 'job-1'),
    job('workflow_job-in_progress', 'job-2'),
    job('workflow_job-completed-success', 'job-3'),
    // The legacy shape has no workflow_name and no head_branch.
    job('workflow_job-in_progress-legacy-schema', 'job-4'),
  ]
}

const PIPELINE = 31
const SCENARIOS: Record<string, () => Send[]> = {
  github: actionsRun,
  // Gitea sends the same bodies with its own headers.
  gitea: () =>
    actionsRun().map((d, i) => ({
      provider: 'gitea',
      body: d.body,
      headers: {
        'content-type': 'application/json',
        'x-gitea-event': d.headers['x-github-event']!,
        'x-gitea-delivery': `gitea-${i}`,
      },
    })),
  gitlab: () => {
    const pointed = (b: any) => Object.assign(b, { pipeline_id: PIPELINE, commit: { ...b.commit, id: PIPELINE } })
    return [
      fixture(
        'gitlab',
        'pipeline-success-docs-example-v16',
        (b) => {
          Object.assign(b.object_attributes, { status: 'running', finished_at: null, duration: null })
        },
        { 'idempotency-key': 'p-running' }
      ),
      fixture('gitlab', 'pipeline-success-docs-example-v16', () => {}, { 'idempotency-key': 'p-success' }),
      // A job names its pipeline from commit.name, which the pipeline's own name need not match.
      fixture('gitlab', 'job-created-docs-example', pointed, { 'idempotency-key': 'j-created' }),
      fixture('gitlab', 'job-success-gitlabcom', pointed, { 'idempotency-key': 'j-success' }),
    ]
  },
  // One workflow's job and its completion; the job's workflow.name differs from the workflow's.
  circleci: () => [
    fixture('circleci', 'job-completed-success-github-oauth'),
    fixture('circleci', 'workflow-completed-success-github-oauth'),
  ],
  buildkite: () =>
    [
      buildEvent('build.scheduled', buildObject('scheduled')),
      jobEvent('job.scheduled', jobObject('scheduled'), 'scheduled'),
      buildEvent('build.running', buildObject('running')),
      jobStarted(),
      jobFinished('passed'),
      buildFinished('passed'),
    ].map((raw) => ({
      provider: 'buildkite',
      body: JSON.parse(raw),
      headers: { 'x-buildkite-event': JSON.parse(raw).event },
    })),
  drone: () => ['build-created', 'build-updated', 'build-completed'].map((n) => fixture('drone', n)),
  bitbucket: () =>
    ['repo-commit_status_created-inprogress', 'repo-commit_status_updated-successful'].map((n) =>
      fixture('bitbucket', n)
    ),
  jenkins: () => [
    fixture('jenkins', 'notification-started'),
    fixture('jenkins', 'notification-completed-failure', (b) => (b.build.number = 3)),
  ],
}

type Json = any
/** Every build (with jobs) and tile the store serves the API, minus arrival times. */
async function state(engine: Engine) {
  const store = readsFor(engine)
  const strip = (o: Json): Json =>
    Array.isArray(o)
      ? o.map(strip)
      : o && typeof o === 'object'
        ? Object.fromEntries(
            Object.entries(o)
              .filter(([k]) => k !== 'updatedAt')
              .map(([k, v]) => [k, strip(v)])
          )
        : o
  const ids = (await store.builds({ limit: 1_000_000 })).map((r) => r.id).sort()
  const byId = (a: Json, b: Json) => String(a.id).localeCompare(String(b.id))
  const builds = await Promise.all(ids.map((id) => store.build(id)))
  return strip({ builds, pipelines: [...(await store.tiles())].sort(byId) })
}

async function play(deliveries: Send[]) {
  const s = await startTestServer(ENV)
  try {
    for (const d of deliveries) {
      const raw = Buffer.from(JSON.stringify(d.body))
      const res = await fetch(`${s.url}/hooks/${d.provider}`, {
        method: 'POST',
        headers: { ...d.headers, ...SIGNERS[d.provider]!(raw, SECRET) },
        body: new Uint8Array(raw),
      })
      expect(res.status, await res.text()).toBe(200)
    }
    return await state(s.engine)
  } finally {
    await s.destroy()
  }
}

/**
 * Each order runs on a server of its own: on the pg pass that is a fresh database and stream, seconds
 * to make, so fewer orders there (the rules are the same code: pg-store.test.ts compares them).
 */
const onPg = TEST_ENGINE === 'pg'

describe('arrival order', () => {
  it.each(Object.keys(SCENARIOS))(
    '%s: every order of one run leaves the same builds and tiles, none empty',
    async (name) => {
      const deliveries = SCENARIOS[name]!()
      const reference = await play(deliveries)
      expect(reference.builds).toHaveLength(1)
      expect(reference.pipelines).toHaveLength(1)
      expect(reference.pipelines[0].latest?.id).toBe(reference.builds[0].id)
      await fc.assert(
        // Orders of indices, so a counterexample reads as a short list rather than whole bodies.
        fc.asyncProperty(
          fc.shuffledSubarray([...deliveries.keys()], { minLength: deliveries.length, maxLength: deliveries.length }),
          async (order) => {
            expect(await play(order.map((i) => deliveries[i]!))).toEqual(reference)
          }
        ),
        { numRuns: deliveries.length > 3 && !onPg ? 6 : 2 }
      )
    },
    onPg ? 120_000 : undefined
  )

  it('keeps a job that comes first waiting, and shows it on its build when the build arrives', async () => {
    const [queued, completed, , , , legacy] = actionsRun()
    const s = await startTestServer(ENV)
    try {
      const post = async (d: Send) => {
        const raw = Buffer.from(JSON.stringify(d.body))
        const res = await fetch(`${s.url}/hooks/github`, {
          method: 'POST',
          headers: { ...d.headers, ...github.sign(raw, SECRET) },
          body: new Uint8Array(raw),
        })
        return res.json()
      }
      expect(await post(legacy!)).toMatchObject({ stored: true, build: `github:${RUN}`, status: null })
      const store = readsFor(s.engine)
      expect(await store.tiles()).toEqual([])
      expect(await store.build(`github:${RUN}`)).toBeNull()
      expect(await post(queued!)).toMatchObject({ status: 'running' })
      expect(await post(completed!)).toMatchObject({ status: 'success', transition: 'passed' })
      expect((await store.tiles()).map((p) => [p.pipeline, p.branch])).toEqual([['test', 'master']])
      const build = (await store.build(`github:${RUN}`))!
      expect(build.jobs!.map((j: Json) => j.name)).toEqual([
        loadFixture('github', 'workflow_job-in_progress-legacy-schema').body.workflow_job.name,
      ])
    } finally {
      await s.destroy()
    }
  })
})
