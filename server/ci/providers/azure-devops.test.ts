import { describe, expect, it } from 'vitest'
import { buildUpdateSchema, type BuildUpdate } from '../model.ts'
import { BadPayload, type Delivery } from '../provider.ts'
import { fixtureNames, loadFixture } from '../../test/fixtures.ts'
import { sign, signHeader } from '../../test/sign/azure-devops.ts'
import { azureDevops } from './azure-devops.ts'

const SECRET = 'ado-token'
const secrets = { AZURE_DEVOPS_WEBHOOK_TOKEN: [SECRET] }
/** Unset, empty, and only an empty string: each means nothing is configured. */
const noSecrets = (v: string): Record<string, string[]>[] => [{}, { [v]: [] }, { [v]: [''] }]

function delivery(raw: Buffer, headers: Record<string, string> = {}, auth = sign(raw, SECRET)) {
  const d: Delivery = {
    headers: new Headers({ ...headers, ...auth }),
    raw,
    url: new URL('http://x/hooks/azure-devops'),
    receivedAt: Date.now(),
  }
  return d
}

function normalize(body: unknown) {
  return azureDevops.normalize(delivery(Buffer.from('{}')), body)
}

function update(body: unknown) {
  const r = normalize(body)
  if (r.kind !== 'build') throw new Error(`expected a build, got ${r.kind}`)
  expect(() => buildUpdateSchema.parse(r.update)).not.toThrow()
  return r.update
}

const PROJECT_ID = 'be9b3917-87e6-42a4-a549-2bc06a7a878f'

const expected: Record<string, { event: string; deliveryId: string; update: BuildUpdate }> = {
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
  it('has an expectation for every Azure DevOps fixture', () => {
    expect(fixtureNames('azure-devops').sort()).toEqual(Object.keys(expected).sort())
  })

  describe.each(fixtureNames('azure-devops'))('fixture %s', (name) => {
    const f = loadFixture('azure-devops', name)
    const want = expected[name]!

    it('verifies with the token as the Basic password', () => {
      expect(azureDevops.verify(delivery(f.raw, f.headers), secrets)).toEqual({ ok: true })
    })

    it('normalizes to the expected build update, field by field', () => {
      const r = azureDevops.normalize(delivery(f.raw, f.headers), f.body)
      expect(r.kind).toBe('build')
      if (r.kind !== 'build') return
      expect(r.event).toBe(want.event)
      expect(r.deliveryId).toBe(want.deliveryId)
      for (const key of Object.keys(want.update) as (keyof BuildUpdate)[]) {
        expect({ [key]: r.update[key] }).toEqual({ [key]: want.update[key] })
      }
      expect(Object.keys(r.update).sort()).toEqual(Object.keys(want.update).sort())
      expect(() => buildUpdateSchema.parse(r.update)).not.toThrow()
    })
  })

  describe('verify', () => {
    const f = loadFixture('azure-devops', 'run-state-changed-succeeded-docs-example')

    it('accepts the token in the X-Radiator-Token header', () => {
      const d = delivery(f.raw, f.headers, signHeader(f.raw, SECRET))
      expect(azureDevops.verify(d, secrets)).toEqual({ ok: true })
    })

    it('accepts the token as a Bearer credential', () => {
      const d = delivery(f.raw, f.headers, { authorization: `Bearer ${SECRET}` })
      expect(azureDevops.verify(d, secrets)).toEqual({ ok: true })
    })

    it('rejects a wrong token in either place', () => {
      for (const auth of [sign(f.raw, 'nope'), signHeader(f.raw, 'nope')]) {
        expect(azureDevops.verify(delivery(f.raw, f.headers, auth), secrets).ok).toBe(false)
      }
    })

    it('rejects a delivery without any credential', () => {
      const r = azureDevops.verify(delivery(f.raw, f.headers, {}), secrets)
      expect(r).toEqual({ ok: false, reason: expect.stringContaining('X-Radiator-Token') })
    })

    it('rejects an empty Basic password even if an empty secret slipped into the list', () => {
      const d = delivery(f.raw, f.headers, sign(f.raw, ''))
      expect(azureDevops.verify(d, { AZURE_DEVOPS_WEBHOOK_TOKEN: ['', SECRET] }).ok).toBe(false)
    })

    it('names the variable to set when no token is configured', () => {
      for (const s of noSecrets('AZURE_DEVOPS_WEBHOOK_TOKEN')) {
        expect(azureDevops.verify(delivery(f.raw, f.headers), s)).toEqual({
          ok: false,
          reason: expect.stringContaining('AZURE_DEVOPS_WEBHOOK_TOKEN'),
        })
      }
    })

    it('accepts both the old and the new token during rotation', () => {
      const rotating = { AZURE_DEVOPS_WEBHOOK_TOKEN: ['old-token', 'new-token'] }
      for (const t of ['old-token', 'new-token']) {
        const d = delivery(f.raw, f.headers, sign(f.raw, t))
        expect(azureDevops.verify(d, rotating).ok).toBe(true)
      }
    })

    it('does not protect the body: Azure signs nothing, so a changed body still passes', () => {
      const tampered = Buffer.from(f.raw)
      tampered[10] = tampered[10]! ^ 1
      const d = delivery(tampered, f.headers, sign(f.raw, SECRET))
      expect(azureDevops.verify(d, secrets).ok).toBe(true)
    })
  })

  describe('normalize', () => {
    it('reads a current build.complete: result over status, branch, sha, requester, links', () => {
      const u = update(modernBuild())
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
      for (const [result, status] of Object.entries(cases)) {
        expect(update(modernBuild({ result })).status).toBe(status)
      }
    })

    it('falls back to status when result is none and leaves finishedAt unset while running', () => {
      const u = update(modernBuild({ result: 'none', status: 'inProgress' }))
      expect(u.status).toBe('running')
      expect(u.finishedAt).toBeNull()
      expect(u.durationMs).toBeNull()
    })

    it('reads a PR number and source branch from a pull-request build', () => {
      const u = update(
        modernBuild({
          sourceBranch: 'refs/pull/7/merge',
          triggerInfo: { 'pr.sourceBranch': 'refs/heads/feature/x' },
        })
      )
      expect(u.pullRequest).toBe(7)
      expect(u.branch).toBe('feature/x')
    })

    it('reads a tag build as a tag with no branch', () => {
      const u = update(modernBuild({ sourceBranch: 'refs/tags/v2.0.0' }))
      expect(u.tag).toBe('v2.0.0')
      expect(u.branch).toBe('')
    })

    it('maps an in-progress run to running with no finish', () => {
      const body = loadFixture('azure-devops', 'run-state-changed-succeeded-docs-example').body
      body.resource.run.state = 'inProgress'
      delete body.resource.run.result
      const u = update(body)
      expect(u.status).toBe('running')
      expect(u.finishedAt).toBeNull()
    })

    it('maps a canceling run to running and a canceled run to canceled', () => {
      const body = loadFixture('azure-devops', 'run-state-changed-succeeded-docs-example').body
      body.resource.run.state = 'canceling'
      body.resource.run.result = 'unknown'
      expect(update(body).status).toBe('running')
      body.resource.run.state = 'completed'
      body.resource.run.result = 'canceled'
      expect(update(body).status).toBe('canceled')
    })

    it('ignores stage and job state events', () => {
      for (const eventType of [
        'ms.vss-pipelines.stage-state-changed-event',
        'ms.vss-pipelines.job-state-changed-event',
        'git.push',
      ]) {
        expect(normalize({ id: 'x', eventType, resource: {} }).kind).toBe('ignored')
      }
    })

    it('ignores a status it does not know, including prototype names', () => {
      for (const result of ['exploded', 'constructor']) {
        expect(normalize(modernBuild({ result })).kind).toBe('ignored')
      }
    })

    it('throws BadPayload when the resource, its id or the event id is missing', () => {
      const noResource = modernBuild()
      delete noResource.resource
      const noId = modernBuild()
      delete noId.resource.id
      const noEventId = modernBuild()
      delete noEventId.id
      const noRun = loadFixture('azure-devops', 'run-state-changed-succeeded-docs-example').body
      delete noRun.resource.run
      for (const body of [noResource, noId, noEventId, noRun, null, 'x']) {
        expect(() => normalize(body)).toThrow(BadPayload)
      }
    })

    it('throws BadPayload when there is no project at all', () => {
      const body = modernBuild()
      delete body.resource.project
      delete body.resourceContainers
      expect(() => normalize(body)).toThrow(BadPayload)
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
      const u = update(body)
      expect(u.branch).toBe('')
      expect(u.pipeline).toHaveLength(300)
      expect(u.actor).toBeNull()
      expect(u.url).toBeNull()
      expect(u.finishedAt).toBeNull()
    })
  })
})
