import { describe, expect, it } from 'vitest'
import type { BuildUpdate } from '../model.ts'
import { BadPayload } from '../provider.ts'
import { loadFixture } from '../../test/fixtures.ts'
import { delivery, providerCases, type Sendable } from '../../test/provider-cases.ts'
import { sign, signForgejo } from '../../test/sign/gitea.ts'
import { gitea } from './gitea.ts'
import { github } from './github.ts'

// No Gitea or Forgejo capture exists: Gitea bodies are the GitHub fixtures (Gitea copies their
// shape) sent with Gitea's headers, and the Forgejo body follows its `ActionPayload` struct.
const gt = providerCases(gitea, sign, { GITEA_WEBHOOK_SECRET: 's3cret-gitea' })
const GITEA_DELIVERY = '5b0c2b59-86a0-4a8e-9a4c-1b2f8a7e3d10'

/** Gitea's header set: its own, plus the GitHub- and Gogs-compatible copies. */
function giteaHeaders(event: string): Record<string, string> {
  return {
    'Content-Type': 'application/json',
    'User-Agent': 'Go-http-client/1.1',
    'X-Gitea-Event': event,
    'X-Gitea-Event-Type': event,
    'X-Gitea-Delivery': GITEA_DELIVERY,
    'X-GitHub-Event': event,
    'X-GitHub-Event-Type': event,
    'X-GitHub-Delivery': GITEA_DELIVERY,
    'X-Gogs-Event': event,
    'X-Gogs-Delivery': GITEA_DELIVERY,
  }
}

/** A body with the headers it is sent with. */
type Sent = Sendable & { body: any }

/** A GitHub fixture (changed by `mutate`) as Gitea sends it. */
function asGitea(name: string, mutate?: (body: any) => void): Sent {
  const f = loadFixture('github', name)
  mutate?.(f.body)
  const raw = mutate ? Buffer.from(JSON.stringify(f.body)) : f.raw
  return { raw, headers: giteaHeaders(name.split('-')[0]!), body: f.body }
}

const build = (sent: Sent) => gt.build(sent.body, sent)

const FORGEJO_DELIVERY = 'b8c3d6e9-f0a1-5b6c-ad8f-2e3f4a5b6c7d'

function forgejoRun(run: Record<string, unknown> = {}) {
  return {
    action: 'failure',
    run: {
      id: 12346,
      title: 'Refactor database connection logic\n\nLong description',
      repository: { id: 421133, name: 'w2fm-test', full_name: 'fedora/w2fm-test' },
      workflow_id: 'test.yml',
      index_in_repo: 42,
      trigger_user: { id: 262265, login: 'gridhead' },
      ScheduleID: 0,
      prettyref: 'main',
      is_ref_deleted: false,
      commit_sha: 'b2c3d4e5f6a7890123456789012345678901bcde',
      is_fork_pull_request: false,
      need_approval: false,
      approved_by: 0,
      event: 'push',
      event_payload: '{}',
      trigger_event: 'push',
      status: 'failure',
      started: '2025-04-14T11:15:30Z',
      stopped: '2025-04-14T11:25:00Z',
      created: '2025-04-14T11:15:00Z',
      updated: '2025-04-14T11:25:00Z',
      duration: 570_000_000_000,
      html_url: 'https://codeberg.org/fedora/w2fm-test/actions/runs/42',
      ...run,
    },
    prior_status: 'running',
    repository: { id: 421133, full_name: 'fedora/w2fm-test' },
    sender: { id: 262265, login: 'gridhead' },
  }
}

/** A Forgejo body as Forgejo sends it. */
function forgejo(body: unknown, event = 'action_run_failure'): Sent {
  const headers = {
    ...giteaHeaders(event),
    'X-Forgejo-Event': event,
    'X-Forgejo-Event-Type': event,
    'X-Forgejo-Delivery': FORGEJO_DELIVERY,
    'X-Gitea-Delivery': FORGEJO_DELIVERY,
  }
  return { raw: JSON.stringify(body), headers, body }
}

describe('gitea verify', () => {
  it('accepts X-Gitea-Signature made with the configured secret', () => {
    const d = gt.signed(asGitea('workflow_run-completed-success'))
    expect(gitea.verify(d, gt.secrets)).toEqual({ ok: true })
  })

  it('accepts X-Forgejo-Signature made with the configured secret', () => {
    const sent = forgejo(forgejoRun())
    const d = gt.withAuth(sent, signForgejo(Buffer.from(sent.raw), gt.secret))
    expect(gitea.verify(d, gt.secrets)).toEqual({ ok: true })
  })

  gt.verifyCases({
    sample: asGitea('workflow_job-completed-success'),
    tamperable: true,
    reasons: {
      wrongSecret: 'X-Gitea-Signature does not match the body',
      missing: 'missing X-Gitea-Signature or X-Forgejo-Signature header',
    },
  })

  it('does not accept the GitHub-compatible signature alone', () => {
    const d = gt.signed(asGitea('workflow_run-completed-success'))
    d.headers.delete('x-gitea-signature')
    expect(d.headers.has('x-hub-signature-256')).toBe(true)
    expect(gitea.verify(d, gt.secrets)).toEqual({
      ok: false,
      reason: 'missing X-Gitea-Signature or X-Forgejo-Signature header',
    })
  })
})

describe('gitea normalize', () => {
  it('normalizes a workflow_run exactly as GitHub does, reported as gitea', () => {
    const sent = asGitea('workflow_run-completed-success-with-pull-requests')
    const { deliveryId, update } = build(sent)
    expect(deliveryId).toBe(GITEA_DELIVERY)
    expect(update.provider).toBe('gitea')
    expect(update.externalId).toBe('289782451')
    expect(update.project).toBe('octo-org/octo-repo')
    expect(update.pipeline).toBe('test')
    expect(update.branch).toBe('master')
    expect(update.pullRequest).toBe(2)
    expect(update.number).toBe(163)
    expect(update.attempt).toBe(1)
    expect(update.status).toBe('success')
    expect(update.commit).toEqual({
      sha: '3484a3fb816e0859fd6e1cea078d76385ff50625',
      subject: 'build(test): check workflow run event payload',
      author: 'Matthias Fax',
    })
    expect(update.actor).toBe('Codertocat')
    expect(update.url).toBe('https://github.com/octo-org/octo-repo/actions/runs/289782451')
    expect(update.startedAt).toBe('2020-10-05T16:33:49.000Z')
    expect(update.finishedAt).toBe('2020-10-05T16:33:49.000Z')
    expect(update.durationMs).toBe(0)
    expect(update.fromJob).toBe(false)
    expect(update.jobs).toHaveLength(0)

    const gh = github.normalize(gt.signed(sent), sent.body)
    expect(gh.kind).toBe('ignored')
    const plain = loadFixture('github', 'workflow_run-completed-success-with-pull-requests')
    const fromGh = github.normalize(delivery(plain), plain.body)
    expect(fromGh.kind === 'build' && { ...fromGh.update, provider: 'gitea' }).toEqual(update)
  })

  it('normalizes a workflow_job as a job update of its run', () => {
    const { deliveryId, update } = build(asGitea('workflow_job-completed-failure'))
    expect(deliveryId).toBe(GITEA_DELIVERY)
    expect(update).toMatchObject({
      provider: 'gitea',
      externalId: '2202229078',
      project: 'Codertocat/Hello-World',
      pipeline: 'CodeQL',
      branch: 'main',
      status: 'running',
      fromJob: true,
      finishedAt: null,
      eventTime: '2021-08-05T10:38:16.000Z',
    })
    expect(update.jobs).toEqual([
      {
        id: '289782451',
        name: 'linters',
        status: 'failure',
        startedAt: '2021-08-05T10:34:58.000Z',
        finishedAt: '2021-08-05T10:38:16.000Z',
        url: 'https://github.com/octo-org/octo-repo/runs/1291536064',
      },
    ])
  })

  it('handles what Gitea sends differently: "" conclusion, path@ref, attempt 0, zero times', () => {
    const sent = asGitea('workflow_run-completed-success', (b) => {
      delete b.workflow
      Object.assign(b.workflow_run, {
        name: '',
        path: 'build.yml@refs/heads/main',
        status: 'in_progress',
        conclusion: '',
        run_attempt: 0,
        run_started_at: undefined,
        started_at: '2020-10-05T16:33:40Z',
        completed_at: '0001-01-01T00:00:00Z',
      })
    })
    expect(build(sent).update).toMatchObject({
      pipeline: 'build.yml',
      status: 'running',
      attempt: 1,
      startedAt: '2020-10-05T16:33:40.000Z',
      finishedAt: null,
    })
  })

  it('maps Gitea job states: pending and waiting are queued', () => {
    for (const status of ['pending', 'waiting', 'requested', 'queued']) {
      const sent = asGitea('workflow_job-queued', (b) => {
        const zero = '0001-01-01T00:00:00Z'
        Object.assign(b.workflow_job, { status, conclusion: '', started_at: zero })
      })
      const { update } = build(sent)
      expect(update.status, status).toBe('queued')
      expect(update.jobs[0]?.startedAt, status).toBeNull()
      expect(update.eventTime, status).toBe('2021-09-13T02:21:13.000Z')
    }
  })

  it('normalizes a Forgejo action_run_failure', () => {
    const { deliveryId, update } = build(forgejo(forgejoRun()))
    expect(deliveryId).toBe(FORGEJO_DELIVERY)
    const want: BuildUpdate = {
      provider: 'gitea',
      externalId: '12346',
      attempt: 1,
      project: 'fedora/w2fm-test',
      pipeline: 'test.yml',
      branch: 'main',
      tag: null,
      pullRequest: null,
      number: 42,
      status: 'failure',
      commit: {
        sha: 'b2c3d4e5f6a7890123456789012345678901bcde',
        subject: 'Refactor database connection logic',
        author: null,
      },
      actor: 'gridhead',
      url: 'https://codeberg.org/fedora/w2fm-test/actions/runs/42',
      trigger: 'push',
      queuedAt: '2025-04-14T11:15:00.000Z',
      startedAt: '2025-04-14T11:15:30.000Z',
      finishedAt: '2025-04-14T11:25:00.000Z',
      durationMs: 570_000,
      jobs: [],
      fromJob: false,
      eventTime: '2025-04-14T11:25:00.000Z',
    }
    for (const [field, value] of Object.entries(want)) {
      expect(update[field as keyof BuildUpdate], field).toEqual(value)
    }
  })

  it('reads a Forgejo pull request run and a run canceled before it started', () => {
    const pr = forgejoRun({ prettyref: '#7', status: 'success' })
    expect(build(forgejo(pr, 'action_run_recover')).update).toMatchObject({
      status: 'success',
      branch: '',
      pullRequest: 7,
    })
    const canceled = forgejoRun({ status: 'cancelled', started: '0001-01-01T00:00:00Z' })
    expect(build(forgejo(canceled)).update).toMatchObject({
      status: 'canceled',
      startedAt: null,
      finishedAt: '2025-04-14T11:25:00.000Z',
      durationMs: null,
    })
  })

  it('ignores events that are not about builds', () => {
    const d = delivery({ raw: '{}', headers: giteaHeaders('push') })
    expect(gitea.normalize(d, {})).toEqual({
      kind: 'ignored',
      event: 'push',
      reason: 'push events are not about builds',
    })
  })

  it('rejects a workflow_run event without a workflow_run object', () => {
    const d = gt.signed(asGitea('workflow_run-completed-success'))
    const body = { repository: { full_name: 'a/b' } }
    expect(() => gitea.normalize(d, body)).toThrow(BadPayload)
    expect(() => gitea.normalize(d, body)).toThrow('missing workflow_run')
  })

  gt.requiredCases(forgejo(forgejoRun()), {
    'rejects a Forgejo action_run event without a run object': ['run'],
  })
})
