import { describe, expect, it } from 'vitest'
import { loadFixture } from '../../test/fixtures.ts'
import { providerCases, without, type Expected } from '../../test/provider-cases.ts'
import { sign, signHeader } from '../../test/sign/azure-devops.ts'
import { azureDevops } from './azure-devops.ts'

const ado = providerCases(azureDevops, sign, { AZURE_DEVOPS_WEBHOOK_TOKEN: 'ado-token' })

const PROJECT_ID = 'be9b3917-87e6-42a4-a549-2bc06a7a878f'

const expected: Record<string, Expected> = {
  'build.complete-succeeded-docs-example': {
    event: 'build.complete',
    deliveryId: '4a5d99d6-1c75-4e53-91b9-ee80057d4ce3',
    update: {
      provider: 'azure-devops',
      externalId: '2',
      attempt: 1,
      // No resource.project in this legacy sample: the container id is all there is.
      project: PROJECT_ID,
      pipeline: 'ConsumerAddressModule',
      branch: 'master',
      tag: null,
      pullRequest: null,
      // "ConsumerAddressModule_20150407.1" is not a number.
      number: null,
      status: 'success',
      commit: { sha: '600c52d2d5b655caa111abfd863e5a9bd304bb0e', subject: null, author: null },
      actor: 'Normal Paulk',
      // The sample's message links build 3 while the resource is build 2; taken as sent.
      url: 'https://dev.azure.com/fabrikam-fiber-inc/web/build.aspx?pcguid=5023c10b-bef3-41c3-bf53-686c4e34ee9e&builduri=vstfs%3a%2f%2f%2fBuild%2fBuild%2f3',
      trigger: 'manual',
      queuedAt: null,
      startedAt: '2015-04-07T18:04:06.830Z',
      finishedAt: '2015-04-07T18:06:10.690Z',
      durationMs: 123_860,
      jobs: [],
      fromJob: false,
      eventTime: '2016-09-19T13:03:26.428Z',
    },
  },
  'run-state-changed-succeeded-docs-example': {
    event: 'ms.vss-pipelines.run-state-changed-event',
    deliveryId: '62e4351f-1c24-40f9-8510-7af03692ab45',
    update: {
      provider: 'azure-devops',
      externalId: '11',
      attempt: 1,
      project: PROJECT_ID,
      pipeline: 'TEST-CI',
      branch: '',
      tag: null,
      pullRequest: null,
      number: 11,
      status: 'success',
      commit: { sha: null, subject: 'Added Viva support', author: 'Fabrikam John' },
      actor: null,
      url: 'https://codedev.ms/org/863d0a5b-3c91-4bf3-8ad7-7f33736b7f4c/_build/results?buildId=11',
      trigger: null,
      queuedAt: null,
      startedAt: '2019-12-13T04:46:13.613Z',
      finishedAt: '2019-12-13T04:46:13.613Z',
      durationMs: 0,
      jobs: [],
      fromJob: false,
      eventTime: '2019-12-13T04:46:13.683Z',
    },
  },
}

/** The legacy sample turned into what a current YAML build sends. */
function modernBuild(overrides: Record<string, unknown> = {}) {
  const body = loadFixture('azure-devops', 'build.complete-succeeded-docs-example').body
  delete body.resource.sourceGetVersion
  delete body.resource.requests
  Object.assign(body.resource, {
    buildNumber: '20240502.3',
    status: 'completed',
    result: 'partiallySucceeded',
    queueTime: '2024-05-02T09:59:00.123Z',
    startTime: '2024-05-02T10:00:00Z',
    finishTime: '2024-05-02T10:04:00Z',
    sourceBranch: 'refs/heads/main',
    sourceVersion: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
    project: { id: PROJECT_ID, name: 'Fabrikam' },
    requestedFor: { displayName: 'Jane Doe' },
    reason: 'individualCI',
    _links: { web: { href: 'https://dev.azure.com/acme/Fabrikam/_build/results?buildId=2' } },
    ...overrides,
  })
  return body
}

describe('azure-devops provider', () => {
  ado.fixtureCases({ expected, how: 'sent with the token as the Basic password' })

  describe('verify', () => {
    const f = loadFixture('azure-devops', 'run-state-changed-succeeded-docs-example')

    ado.verifyCases({
      sample: f,
      tamperable: false,
      noun: 'token',
      reasons: {
        wrongSecret: 'Azure DevOps token does not match',
        missing: 'missing credentials: send HTTP Basic (password = token) or X-Radiator-Token',
      },
    })

    it('accepts the token in the X-Radiator-Token header', () => {
      const d = ado.withAuth(f, signHeader(f.raw, ado.secret))
      expect(azureDevops.verify(d, ado.secrets)).toEqual({ ok: true })
    })

    it('accepts the token as a Bearer credential', () => {
      const d = ado.withAuth(f, { authorization: `Bearer ${ado.secret}` })
      expect(azureDevops.verify(d, ado.secrets)).toEqual({ ok: true })
    })

    it('rejects a wrong token in the X-Radiator-Token header', () => {
      const d = ado.withAuth(f, signHeader(f.raw, 'nope'))
      expect(azureDevops.verify(d, ado.secrets)).toEqual({
        ok: false,
        reason: 'Azure DevOps token does not match',
      })
    })

    it('rejects an empty Basic password even if an empty secret slipped into the list', () => {
      const d = ado.withAuth(f, sign(f.raw, ''))
      expect(azureDevops.verify(d, { AZURE_DEVOPS_WEBHOOK_TOKEN: ['', ado.secret] }).ok).toBe(false)
    })
  })

  describe('normalize', () => {
    it('reads a current build.complete: result over status, branch, sha, requester, links', () => {
      const u = ado.build(modernBuild()).update
      expect(u).toMatchObject({
        externalId: '2',
        project: 'Fabrikam',
        branch: 'main',
        number: null,
        status: 'failure',
        commit: { sha: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678', subject: null, author: null },
        actor: 'Jane Doe',
        url: 'https://dev.azure.com/acme/Fabrikam/_build/results?buildId=2',
        trigger: 'individualCI',
        queuedAt: '2024-05-02T09:59:00.123Z',
        startedAt: '2024-05-02T10:00:00.000Z',
        finishedAt: '2024-05-02T10:04:00.000Z',
        durationMs: 240_000,
      })
    })

    it('maps build results: succeeded, failed, canceled', () => {
      const cases = { succeeded: 'success', failed: 'failure', canceled: 'canceled' }
      ado.expectStatuses(cases, (result) => modernBuild({ result }))
    })

    it('falls back to status when result is none and leaves finishedAt unset while running', () => {
      const u = ado.build(modernBuild({ result: 'none', status: 'inProgress' })).update
      expect(u.status).toBe('running')
      expect(u.finishedAt).toBeNull()
      expect(u.durationMs).toBeNull()
    })

    it('reads a PR number and source branch from a pull-request build', () => {
      const u = ado.build(
        modernBuild({
          sourceBranch: 'refs/pull/7/merge',
          triggerInfo: { 'pr.sourceBranch': 'refs/heads/feature/x' },
        })
      ).update
      expect(u.pullRequest).toBe(7)
      expect(u.branch).toBe('feature/x')
    })

    it('reads a tag build as a tag with no branch', () => {
      const u = ado.build(modernBuild({ sourceBranch: 'refs/tags/v2.0.0' })).update
      expect(u.tag).toBe('v2.0.0')
      expect(u.branch).toBe('')
    })

    it('maps an in-progress run to running with no finish', () => {
      const body = loadFixture('azure-devops', 'run-state-changed-succeeded-docs-example').body
      body.resource.run.state = 'inProgress'
      delete body.resource.run.result
      const u = ado.build(body).update
      expect(u.status).toBe('running')
      expect(u.finishedAt).toBeNull()
    })

    it('maps a canceling run to running and a canceled run to canceled', () => {
      const body = loadFixture('azure-devops', 'run-state-changed-succeeded-docs-example').body
      body.resource.run.state = 'canceling'
      body.resource.run.result = 'unknown'
      expect(ado.build(body).update.status).toBe('running')
      body.resource.run.state = 'completed'
      body.resource.run.result = 'canceled'
      expect(ado.build(body).update.status).toBe('canceled')
    })

    it('ignores stage and job state events', () => {
      for (const eventType of [
        'ms.vss-pipelines.stage-state-changed-event',
        'ms.vss-pipelines.job-state-changed-event',
        'git.push',
      ]) {
        ado.expectIgnored({ id: 'x', eventType, resource: {} })
      }
    })

    it('ignores a status it does not know, including prototype names', () => {
      for (const result of ['exploded', 'constructor']) ado.expectIgnored(modernBuild({ result }))
    })

    const run = loadFixture('azure-devops', 'run-state-changed-succeeded-docs-example').body
    ado.badPayloadCases({
      'throws BadPayload when the resource, its id or the event id is missing': [
        without(modernBuild(), 'resource'),
        without(modernBuild(), 'resource.id'),
        without(modernBuild(), 'id'),
        without(run, 'resource.run'),
        null,
        'x',
      ],
      'throws BadPayload when there is no project at all': [
        without(modernBuild(), 'resource.project', 'resourceContainers'),
      ],
    })

    it('survives odd types and oversized text in optional fields', () => {
      const body = modernBuild({
        sourceBranch: 42,
        definition: { name: 'd'.repeat(1000) },
        requestedFor: 'someone',
        lastChangedBy: 7,
        _links: { web: { href: ['x'] } },
        finishTime: 'later',
      })
      body.message = { html: 'Build <a href="javascript:alert(1)">x</a>' }
      const u = ado.build(body).update
      expect(u.branch).toBe('')
      expect(u.pipeline).toHaveLength(300)
      expect(u.actor).toBeNull()
      expect(u.url).toBeNull()
      expect(u.finishedAt).toBeNull()
    })
  })
})
