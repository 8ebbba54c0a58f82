/**
 * @module Buildkite `build.*` / `job.*` webhook bodies for tests. No real or complete delivery has
 * been published (the docs elide them), so these are assembled from the documented REST Build and
 * Job objects (docs/ci-webhooks.md §4). Bodies are JSON strings: the raw bytes to sign.
 */

export const BUILD_ID = '0190a1b2-3c4d-4e5f-8a9b-0c1d2e3f4a5b'
export const JOB_ID = '0190a1b2-9f8e-4d7c-8b6a-5f4e3d2c1b0a'
export const SHA = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678'

const pipeline = {
  id: '0190a1b2-1111-4222-8333-444455556666',
  url: 'https://api.buildkite.com/v2/organizations/acme/pipelines/web',
  web_url: 'https://buildkite.com/acme/web',
  name: 'Web',
  slug: 'web',
  repository: 'git@github.com:acme/web.git',
}

const sender = { id: '0190a1b2-7777-4888-9999-aaaabbbbcccc', name: 'Jane Doe' }

const times = {
  created_at: '2024-05-02T10:00:00.000Z',
  scheduled_at: '2024-05-02T10:00:01.000Z',
  started_at: '2024-05-02T10:00:05.000Z',
  finished_at: '2024-05-02T10:03:35.000Z',
}

/** A REST Build object (webhooks send it without `jobs`) in the given state. */
export function buildObject(state: string, overrides: Record<string, unknown> = {}) {
  const running = state === 'scheduled' ? {} : { started_at: times.started_at }
  const done = ['passed', 'failed', 'canceled', 'skipped', 'not_run'].includes(state)
  return {
    id: BUILD_ID,
    graphql_id: 'QnVpbGQtLS0wMTkwYTFiMg==',
    url: 'https://api.buildkite.com/v2/organizations/acme/pipelines/web/builds/42',
    web_url: 'https://buildkite.com/acme/web/builds/42',
    number: 42,
    state,
    blocked: false,
    message: 'Fix login redirect\n\nThe session cookie was dropped on redirect.',
    commit: SHA,
    branch: 'main',
    tag: null,
    source: 'webhook',
    creator: { id: sender.id, name: 'Jane Doe', email: 'jane@acme.test' },
    created_at: times.created_at,
    scheduled_at: times.scheduled_at,
    started_at: null,
    finished_at: null,
    pull_request: null,
    rebuilt_from: null,
    ...running,
    ...(done ? { finished_at: times.finished_at } : {}),
    ...overrides,
  }
}

/** A REST Job object (a command step) in the given state. */
export function jobObject(state: string, overrides: Record<string, unknown> = {}) {
  const started = state === 'scheduled' ? null : '2024-05-02T10:00:10.000Z'
  const finished = ['passed', 'failed'].includes(state) ? '2024-05-02T10:02:40.000Z' : null
  return {
    id: JOB_ID,
    graphql_id: 'Sm9iLS0tMDE5MGExYjI=',
    type: 'script',
    name: ':test_tube: Unit tests',
    step_key: 'unit',
    state,
    web_url: `https://buildkite.com/acme/web/builds/42#${JOB_ID}`,
    command: 'npm test',
    exit_status: state === 'failed' ? 1 : state === 'passed' ? 0 : null,
    soft_failed: false,
    created_at: '2024-05-02T10:00:01.000Z',
    scheduled_at: '2024-05-02T10:00:01.000Z',
    runnable_at: '2024-05-02T10:00:02.000Z',
    started_at: started,
    finished_at: finished,
    retried: false,
    retries_count: null,
    ...overrides,
  }
}

export function buildEvent(event: string, build: Record<string, unknown>): string {
  return JSON.stringify({ event, build, pipeline, sender })
}

export function jobEvent(event: string, job: Record<string, unknown>, buildState = 'running') {
  return JSON.stringify({ event, job, build: buildObject(buildState), pipeline, sender })
}

export const buildRunning = () => buildEvent('build.running', buildObject('running'))

/** A finished build; the failed one is a pull-request build on a feature branch. */
export function buildFinished(result: 'passed' | 'failed' = 'passed'): string {
  const pr = {
    branch: 'feature/login',
    pull_request: { id: '17', base: 'main', repository: 'git@github.com:acme/web.git' },
  }
  return buildEvent('build.finished', buildObject(result, result === 'failed' ? pr : {}))
}

export const jobStarted = () => jobEvent('job.started', jobObject('running'))

export const jobFinished = (result: 'passed' | 'failed' = 'passed') => jobEvent('job.finished', jobObject(result))
