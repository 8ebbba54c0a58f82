import { describe, expect, it } from 'vitest'
import type { BuildUpdate } from '../model.ts'
import { loadFixture } from '../../test/fixtures.ts'
import { delivery, noTimes, providerCases, withField } from '../../test/provider-cases.ts'
import type { Expected } from '../../test/provider-cases.ts'
import { sign } from '../../test/sign/github.ts'
import { github } from './github.ts'

const gh = providerCases(github, sign, { GITHUB_WEBHOOK_SECRET: 's3cret-github' })

/** The octo-org docs examples share one run (289782451) in several states. */
const octoRun: BuildUpdate = {
  provider: 'github',
  externalId: '289782451',
  attempt: 1,
  project: 'octo-org/octo-repo',
  // wr.name is "" here: the top-level workflow object names it.
  pipeline: 'test',
  branch: 'master',
  tag: null,
  pullRequest: null,
  number: 163,
  status: 'success',
  commit: {
    sha: '3484a3fb816e0859fd6e1cea078d76385ff50625',
    subject: 'build(test): check workflow run event payload',
    author: 'Matthias Fax',
  },
  actor: 'Codertocat',
  url: 'https://github.com/octo-org/octo-repo/actions/runs/289782451',
  trigger: 'repository_dispatch',
  queuedAt: '2020-10-05T16:33:24.000Z',
  startedAt: '2020-10-05T16:33:49.000Z',
  finishedAt: '2020-10-05T16:33:49.000Z',
  durationMs: 0,
  jobs: [],
  fromJob: false,
  eventTime: '2020-10-05T16:33:49.000Z',
}

/** The same run as requested: queued, nothing started. */
const octoRequested: BuildUpdate = {
  ...octoRun,
  ...noTimes,
  status: 'queued',
  queuedAt: '2020-10-05T16:33:24.000Z',
  eventTime: '2020-10-05T16:33:24.000Z',
}

const ideacrewRun: BuildUpdate = {
  ...octoRun,
  externalId: '1321542128',
  project: 'ideacrew/active-branch-tracker',
  pipeline: 'test cloud functions',
  branch: 'trunk',
  number: 123,
  commit: {
    sha: 'b440c373712f27d84aa428703e55cdc95ef41ea3',
    subject: 'add workflow run event to webhook handler',
    author: 'Mark Goho',
  },
  // 2021-era payload: no triggering_actor and no actor, so the sender.
  actor: 'markgoho',
  url: 'https://github.com/ideacrew/active-branch-tracker/actions/runs/1321542128',
  trigger: 'push',
  queuedAt: '2021-10-08T18:58:09.000Z',
  startedAt: '2021-10-08T18:58:09.000Z',
  finishedAt: '2021-10-08T18:58:53.000Z',
  durationMs: 44_000,
  eventTime: '2021-10-08T18:58:53.000Z',
}

/** The Codertocat workflow_job docs examples share run 2202229078 and job 289782451. */
const codeqlJob: BuildUpdate = {
  ...octoRun,
  ...noTimes,
  externalId: '2202229078',
  project: 'Codertocat/Hello-World',
  pipeline: 'CodeQL',
  branch: 'main',
  number: null,
  status: 'running',
  commit: { sha: '3484a3fb816e0859fd6e1cea078d76385ff50625', subject: null, author: null },
  actor: 'Codertocat',
  url: null,
  trigger: null,
  fromJob: true,
  jobs: [],
  eventTime: null,
}
const codeqlJobUrl = 'https://github.com/octo-org/octo-repo/runs/1291536064'

/** The same run once its "linters" job has completed. */
const lintersDone = (status: 'success' | 'failure'): BuildUpdate => ({
  ...codeqlJob,
  eventTime: '2021-08-05T10:38:16.000Z',
  jobs: [
    {
      id: '289782451',
      name: 'linters',
      status,
      startedAt: '2021-08-05T10:34:58.000Z',
      finishedAt: '2021-08-05T10:38:16.000Z',
      url: codeqlJobUrl,
    },
  ],
})

const linevilleJob: BuildUpdate = {
  ...codeqlJob,
  externalId: '4747967848',
  project: 'lineville/elastic-machines-testing',
  pipeline: 'Env Test',
  status: 'queued',
  commit: { sha: '16c5286e8d9a0629956a28938386b36608707a71', subject: null, author: null },
  actor: 'lineville',
  eventTime: '2023-04-19T21:12:12.000Z',
  jobs: [
    {
      id: '12877621891',
      name: 'test',
      status: 'queued',
      // started_at is filled while waiting; a queued job has not started.
      startedAt: null,
      finishedAt: null,
      url: 'https://github.com/lineville/elastic-machines-testing/actions/runs/4747967848/jobs/8433573014',
    },
  ],
}

const checks = 'events are not builds; subscribe to workflow_run and workflow_job'

const expected: Record<string, Expected> = {
  'check_run-completed-failure': {
    kind: 'ignored',
    event: 'check_run',
    reason: `check_run ${checks}`,
  },
  'check_run-completed-success': {
    kind: 'ignored',
    event: 'check_run',
    reason: `check_run ${checks}`,
  },
  'check_suite-completed-success': {
    kind: 'ignored',
    event: 'check_suite',
    reason: `check_suite ${checks}`,
  },
  'deployment_status-created': {
    kind: 'ignored',
    event: 'deployment_status',
    reason: 'deployment_status events are deployments, not builds',
  },
  'workflow_job-completed-failure': {
    kind: 'build',
    event: 'workflow_job',
    deliveryId: 'e45a882a-d269-50b1-9800-2c8c10d68e26',
    update: lintersDone('failure'),
  },
  'workflow_job-completed-success': {
    kind: 'build',
    event: 'workflow_job',
    deliveryId: '2c241318-d3be-553f-8502-d9c70e5edc1c',
    update: lintersDone('success'),
  },
  'workflow_job-in_progress-legacy-schema': {
    kind: 'build',
    event: 'workflow_job',
    deliveryId: '8fa481a9-c8ed-5524-9c87-8ed419cc20c3',
    update: {
      ...codeqlJob,
      externalId: '940463255',
      project: 'octo-org/example-workflow',
      // Old schema: no workflow_name, head_branch, run_attempt or created_at.
      pipeline: '',
      branch: '',
      commit: { sha: 'e3103f8eb03e1ad7f2331c5446b23c070fc54055', subject: null, author: null },
      actor: 'octocat',
      eventTime: '2021-06-15T19:22:27.000Z',
      jobs: [
        {
          id: '2832853555',
          name: 'Test workflow',
          status: 'running',
          startedAt: '2021-06-15T19:22:27.000Z',
          finishedAt: null,
          url: 'https://github.com/octo-org/example-workflow/runs/2832853555',
        },
      ],
    },
  },
  'workflow_job-in_progress-real-repo': {
    kind: 'build',
    event: 'workflow_job',
    deliveryId: '7f6af609-4188-5232-8936-64e29b0ad3fb',
    update: {
      ...codeqlJob,
      externalId: '5373506832',
      project: 'wolfy1339/github-events-schemas',
      pipeline: 'Test',
      branch: 'renovate/got-13.x',
      commit: { sha: 'eeeb91cc89453bff9ce51f450d8badd4eb41ae8b', subject: null, author: null },
      actor: 'renovate[bot]',
      eventTime: '2023-06-26T03:31:36.000Z',
      jobs: [
        {
          id: '14541957942',
          name: 'Do examples need to be regenerated?',
          status: 'running',
          startedAt: '2023-06-26T03:31:36.000Z',
          finishedAt: null,
          url: 'https://github.com/wolfy1339/github-events-schemas/actions/runs/5373506832/jobs/9747952373',
        },
      ],
    },
  },
  'workflow_job-in_progress': {
    kind: 'build',
    event: 'workflow_job',
    deliveryId: '41cfabed-80a6-5049-bf67-f9ff2a835726',
    update: {
      ...codeqlJob,
      eventTime: '2021-09-13T02:21:13.000Z',
      jobs: [
        {
          id: '289782451',
          name: 'Analyze (javascript)',
          status: 'running',
          startedAt: '2021-09-13T02:21:13.000Z',
          finishedAt: null,
          url: codeqlJobUrl,
        },
      ],
    },
  },
  // action "queued" with status "waiting": the status decides.
  'workflow_job-queued-status-waiting': {
    kind: 'build',
    event: 'workflow_job',
    deliveryId: 'c3ded6a7-74d8-5ae7-bd1e-ed82081d46ae',
    update: linevilleJob,
  },
  'workflow_job-queued': {
    kind: 'build',
    event: 'workflow_job',
    deliveryId: 'f55f95c1-9c43-5fcc-8554-64d3645e33e5',
    update: {
      ...codeqlJob,
      status: 'queued',
      eventTime: '2021-09-13T02:21:13.000Z',
      jobs: [
        {
          id: '289782451',
          name: 'update',
          status: 'queued',
          startedAt: null,
          finishedAt: null,
          url: codeqlJobUrl,
        },
      ],
    },
  },
  'workflow_job-waiting': {
    kind: 'build',
    event: 'workflow_job',
    deliveryId: 'f8a4d5fa-b07d-56d1-b807-732b10729495',
    update: linevilleJob,
  },
  'workflow_run-completed-failure-real': {
    kind: 'build',
    event: 'workflow_run',
    deliveryId: 'dea8fcb1-b5a4-5d76-87e7-7c35a824dfdd',
    update: {
      ...octoRun,
      externalId: '5575671183',
      project: 'daeuniverse/daed-1',
      pipeline: 'Synchronize Upstream',
      branch: 'main',
      number: 15,
      status: 'failure',
      commit: {
        sha: 'e937d038fd87208fa402fae76f0694840b22d7cc',
        subject: "Merge branch 'daeuniverse:main' into main",
        author: 'Kevin Yu',
      },
      actor: 'yqlbu',
      url: 'https://github.com/daeuniverse/daed-1/actions/runs/5575671183',
      trigger: 'workflow_dispatch',
      queuedAt: '2023-07-17T12:35:00.000Z',
      startedAt: '2023-07-17T12:35:00.000Z',
      finishedAt: '2023-07-17T12:35:19.000Z',
      durationMs: 19_000,
      eventTime: '2023-07-17T12:35:19.000Z',
    },
  },
  // action "completed" but status "queued", conclusion null: not finished.
  'workflow_run-completed-status-queued-quirk': {
    kind: 'build',
    event: 'workflow_run',
    deliveryId: '31c9bdf8-6de6-51fe-b0d5-00177b2bc033',
    update: {
      ...octoRun,
      ...noTimes,
      externalId: '1589141559',
      project: 'Codertocat/Hello-World',
      pipeline: 'Manually triggered workflow',
      branch: 'main',
      number: 36,
      status: 'queued',
      commit: {
        sha: '5779607b49aab1200488439f02372c57b4f75444',
        subject: 'Update milestone-created.yml',
        author: 'Mona Lisa',
      },
      url: 'https://github.com/octo-org/octo-repo/actions/runs/1589141559',
      trigger: 'workflow_dispatch',
      queuedAt: '2021-12-16T19:37:22.000Z',
      eventTime: '2021-12-16T19:37:22.000Z',
    },
  },
  'workflow_run-completed-success-real-github-app': {
    kind: 'build',
    event: 'workflow_run',
    deliveryId: '4d0c07e3-0339-5279-9ef6-c93fbb7190e6',
    update: {
      ...octoRun,
      externalId: '30160622811',
      project: 'lasuillard-s/prevstat',
      pipeline: 'CI',
      branch: 'main',
      number: 4,
      commit: {
        sha: 'a09766e2b3d7f907b58156bedadb131ef41d0d0f',
        subject: 'Fix new build script cannot run locally, for development',
        author: 'Yuchan Lee',
      },
      actor: 'lasuillard',
      url: 'https://github.com/lasuillard-s/prevstat/actions/runs/30160622811',
      trigger: 'push',
      queuedAt: '2026-07-25T13:54:39.000Z',
      startedAt: '2026-07-25T13:54:39.000Z',
      finishedAt: '2026-07-25T13:55:06.000Z',
      durationMs: 27_000,
      eventTime: '2026-07-25T13:55:06.000Z',
    },
  },
  'workflow_run-completed-success-real': {
    kind: 'build',
    event: 'workflow_run',
    deliveryId: 'bcd8d974-38d5-5160-b356-883050891707',
    update: ideacrewRun,
  },
  'workflow_run-completed-success-with-pull-requests': {
    kind: 'build',
    event: 'workflow_run',
    deliveryId: '2eaed06a-5edb-5596-904e-92918a2ab0ac',
    update: { ...octoRun, pullRequest: 2 },
  },
  'workflow_run-completed-success': {
    kind: 'build',
    event: 'workflow_run',
    deliveryId: '21399abf-15d3-5883-957e-2374ab592dcc',
    update: octoRun,
  },
  // status "completed" + conclusion "action_required" on a requested run: awaiting approval.
  'workflow_run-requested-action_required': {
    kind: 'build',
    event: 'workflow_run',
    deliveryId: '4bf1dbe6-3a4d-5cb2-bc95-06cb86f5b8b7',
    update: octoRequested,
  },
  'workflow_run-requested-queued-real': {
    kind: 'build',
    event: 'workflow_run',
    deliveryId: '87fa45e1-6200-5e3d-94d4-965bae37b847',
    update: {
      ...ideacrewRun,
      ...noTimes,
      externalId: '1324255057',
      number: 126,
      status: 'queued',
      commit: {
        sha: '4a4c7776f214368d743ee320d54420d8165badfb',
        subject: 'update workflow run interface with comment',
        author: 'Mark Goho',
      },
      url: 'https://github.com/ideacrew/active-branch-tracker/actions/runs/1324255057',
      queuedAt: '2021-10-09T20:13:05.000Z',
      eventTime: '2021-10-09T20:13:05.000Z',
    },
  },
  'workflow_run-requested-queued': {
    kind: 'build',
    event: 'workflow_run',
    deliveryId: 'ef2a0960-5e90-55e8-9a1f-f4259ed477d2',
    update: octoRequested,
  },
}

describe('github verify', () => {
  it('accepts the test vector from the GitHub docs', () => {
    const headers = {
      'x-hub-signature-256': 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17',
    }
    const r = github.verify(delivery({ raw: 'Hello, World!', headers }), {
      GITHUB_WEBHOOK_SECRET: ["It's a Secret to Everybody"],
    })
    expect(r).toEqual({ ok: true })
  })

  gh.verifyCases({
    sample: 'workflow_run-completed-success',
    tamperable: true,
    reasons: {
      wrongSecret: 'X-Hub-Signature-256 does not match the body',
      missing: 'missing X-Hub-Signature-256 header',
    },
  })

  it('does not accept a Gitea-only signature', () => {
    const f = loadFixture('github', 'workflow_run-completed-success')
    const { 'X-Hub-Signature-256': sig } = sign(f.raw, gh.secret)
    const gitea = {
      'X-Gitea-Event': 'workflow_run',
      'X-Gitea-Signature': sig!.slice('sha256='.length),
    }
    expect(github.verify(delivery(f, gitea), gh.secrets)).toEqual({
      ok: false,
      reason: 'missing X-Hub-Signature-256 header',
    })
  })
})

describe('github normalize', () => {
  gh.fixtureCases({ expected })

  it('answers a ping as a ping', () => {
    const raw = '{"zen":"Keep it logically awesome."}'
    const d = delivery({ raw, headers: { 'x-github-event': 'ping' } })
    expect(github.normalize(d, { zen: 'Keep it logically awesome.' })).toEqual({
      kind: 'ping',
      event: 'ping',
    })
  })

  it('ignores push events with a reason', () => {
    const r = github.normalize(delivery({ raw: '{}', headers: { 'x-github-event': 'push' } }), {})
    expect(r).toEqual({
      kind: 'ignored',
      event: 'push',
      reason: 'push events are not about builds',
    })
  })

  it('ignores a Gitea delivery sent to the github hook', () => {
    const f = loadFixture('github', 'workflow_run-completed-success')
    const d = delivery(f, { 'X-Gitea-Event': 'workflow_run' })
    expect(github.normalize(d, f.body).kind).toBe('ignored')
  })

  gh.requiredCases('workflow_run-completed-success', {
    'rejects a workflow_run event without a workflow_run object': ['workflow_run'],
  })
  gh.requiredCases('workflow_job-queued', {
    'rejects a workflow_job event without a repository': ['repository', 'missing repository.full_name'],
  })

  it('keeps only the first line of a commit message as the subject', () => {
    const f = loadFixture('github', 'workflow_run-completed-success')
    f.body.workflow_run.head_commit.message = '  fix: the thing  \n\nLong body\nmore'
    expect(gh.build(f.body, f).update.commit.subject).toBe('fix: the thing')
  })

  it('falls back to the workflow file name when no name is sent', () => {
    const f = loadFixture('github', 'workflow_run-completed-success')
    delete f.body.workflow
    expect(gh.build(f.body, f).update.pipeline).toBe('test.yml')
  })

  it('maps the remaining conclusions per the doc table', () => {
    const f = loadFixture('github', 'workflow_run-completed-success')
    const cases = {
      cancelled: 'canceled',
      timed_out: 'failure',
      startup_failure: 'failure',
      neutral: 'success',
      skipped: 'skipped',
      stale: 'canceled',
    }
    gh.expectStatuses(cases, (c) => withField(f.body, 'workflow_run.conclusion', c), f)
    const running = withField(f.body, 'workflow_run.status', 'in_progress')
    running.workflow_run.conclusion = null
    expect(gh.build(running, f).update).toMatchObject({
      status: 'running',
      finishedAt: null,
      durationMs: null,
    })
  })

  it('counts a re-run as a new attempt queued when the attempt started', () => {
    const f = loadFixture('github', 'workflow_run-completed-success')
    f.body.workflow_run.run_attempt = 2
    expect(gh.build(f.body, f).update).toMatchObject({
      externalId: '289782451',
      attempt: 2,
      queuedAt: '2020-10-05T16:33:49.000Z',
    })
  })

  it('treats wrong-typed and hostile fields as missing instead of throwing', () => {
    const f = loadFixture('github', 'workflow_run-completed-success')
    Object.assign(f.body.workflow_run, {
      head_branch: 42,
      run_number: -1,
      run_attempt: 'two',
      head_commit: { message: 'x'.repeat(5000), author: 'nobody' },
      pull_requests: 'nope',
      html_url: { href: 'x' },
      run_started_at: 'yesterday',
    })
    f.body.workflow = { name: 'n'.repeat(1000) }
    const { update } = gh.build(f.body, f)
    expect(update).toMatchObject({
      branch: '',
      number: null,
      attempt: 1,
      url: null,
      startedAt: null,
    })
    expect(update.commit.subject).toHaveLength(1000)
    expect(update.pipeline).toHaveLength(300)
  })

  it('ignores an unknown status instead of guessing', () => {
    const f = loadFixture('github', 'workflow_run-completed-success')
    const body = withField(f.body, 'workflow_run.conclusion', 'constructor')
    gh.expectIgnored(body, 'unknown workflow_run status: completed/constructor', f)
  })

  it('builds a natural delivery id when X-GitHub-Delivery is missing', () => {
    const f = loadFixture('github', 'workflow_run-completed-success')
    const { 'X-GitHub-Delivery': _, ...headers } = f.headers
    const r = github.normalize(delivery({ raw: f.raw, headers }), f.body)
    expect(r.kind === 'build' && r.deliveryId).toBe('github:workflow_run:289782451:1:success:2020-10-05T16:33:49.000Z')
  })
})
