import { describe, expect, it } from 'vitest'
import { buildUpdateSchema, type BuildUpdate } from '../model.ts'
import { BadPayload, type Delivery } from '../provider.ts'
import { fixtureNames, loadFixture } from '../../test/fixtures.ts'
import { sign, signToken } from '../../test/sign/buildkite.ts'
import {
  BUILD_ID,
  JOB_ID,
  SHA,
  buildEvent,
  buildFinished,
  buildObject,
  buildRunning,
  jobEvent,
  jobFinished,
  jobObject,
  jobStarted,
} from '../../test/buildkite-bodies.ts'
import { buildkite } from './buildkite.ts'

const SECRET = 'bk-token'
const secrets = { BUILDKITE_WEBHOOK_TOKEN: [SECRET] }
/** Unset, empty, and only an empty string: each means nothing is configured. */
const noSecrets = (v: string): Record<string, string[]>[] => [{}, { [v]: [] }, { [v]: [''] }]
const NOW = Date.parse('2024-05-02T10:05:00Z')

function delivery(raw: Buffer, headers: Record<string, string>, auth = sign(raw, SECRET, NOW)) {
  const d: Delivery = {
    headers: new Headers({ ...headers, ...auth }),
    raw,
    url: new URL('http://x/hooks/buildkite'),
    receivedAt: NOW,
  }
  return d
}

/** Sends a constructed body the way Buildkite would: event header, signed raw bytes. */
function send(json: string) {
  const raw = Buffer.from(json)
  const event = JSON.parse(json).event as string
  const d = delivery(raw, { 'content-type': 'application/json', 'x-buildkite-event': event })
  expect(buildkite.verify(d, secrets)).toEqual({ ok: true })
  return buildkite.normalize(d, JSON.parse(json))
}

function update(json: string) {
  const r = send(json)
  if (r.kind !== 'build') throw new Error(`expected a build, got ${r.kind}`)
  expect(() => buildUpdateSchema.parse(r.update)).not.toThrow()
  return r
}

function expectFields(actual: BuildUpdate, want: BuildUpdate) {
  for (const key of Object.keys(want) as (keyof BuildUpdate)[]) {
    expect({ [key]: actual[key] }).toEqual({ [key]: want[key] })
  }
  expect(Object.keys(actual).sort()).toEqual(Object.keys(want).sort())
}

const build: BuildUpdate = {
  provider: 'buildkite',
  externalId: BUILD_ID,
  attempt: 1,
  project: 'acme/web',
  pipeline: 'Web',
  branch: 'main',
  tag: null,
  pullRequest: null,
  number: 42,
  status: 'running',
  commit: { sha: SHA, subject: 'Fix login redirect', author: 'Jane Doe' },
  actor: 'Jane Doe',
  url: 'https://buildkite.com/acme/web/builds/42',
  trigger: 'webhook',
  queuedAt: '2024-05-02T10:00:01.000Z',
  startedAt: '2024-05-02T10:00:05.000Z',
  finishedAt: null,
  durationMs: null,
  jobs: [],
  fromJob: false,
  eventTime: '2024-05-02T10:00:05.000Z',
}

const job = {
  id: JOB_ID,
  name: ':test_tube: Unit tests',
  startedAt: '2024-05-02T10:00:10.000Z',
  url: `https://buildkite.com/acme/web/builds/42#${JOB_ID}`,
}

describe('buildkite provider', () => {
  describe.each(fixtureNames('buildkite'))('fixture %s', (name) => {
    const f = loadFixture('buildkite', name)

    it('verifies when signed with the configured token', () => {
      expect(buildkite.verify(delivery(f.raw, f.headers), secrets)).toEqual({ ok: true })
    })

    it('is answered as a ping', () => {
      expect(buildkite.normalize(delivery(f.raw, f.headers), f.body)).toEqual({
        kind: 'ping',
        event: 'ping',
      })
    })
  })

  describe('build events', () => {
    it('maps build.running to a running build with its commit, creator and times', () => {
      const r = update(buildRunning())
      expect(r.event).toBe('build.running')
      expect(r.deliveryId).toBe(`buildkite:${BUILD_ID}:build.running:running`)
      expectFields(r.update, build)
    })

    it('maps a passed build.finished to success with finish time and duration', () => {
      const r = update(buildFinished('passed'))
      expect(r.deliveryId).toBe(`buildkite:${BUILD_ID}:build.finished:passed`)
      expectFields(r.update, {
        ...build,
        status: 'success',
        finishedAt: '2024-05-02T10:03:35.000Z',
        durationMs: 210_000,
        eventTime: '2024-05-02T10:03:35.000Z',
      })
    })

    it('maps a failed pull-request build.finished to failure with the PR number', () => {
      const r = update(buildFinished('failed'))
      expect(r.deliveryId).toBe(`buildkite:${BUILD_ID}:build.finished:failed`)
      expectFields(r.update, {
        ...build,
        branch: 'feature/login',
        pullRequest: 17,
        status: 'failure',
        finishedAt: '2024-05-02T10:03:35.000Z',
        durationMs: 210_000,
        eventTime: '2024-05-02T10:03:35.000Z',
      })
    })

    it('treats a build that finished blocked on a block step as queued, not done', () => {
      const r = update(buildEvent('build.finished', buildObject('passed', { blocked: true })))
      expect(r.update.status).toBe('queued')
      expect(r.update.finishedAt).toBeNull()
      expect(r.update.durationMs).toBeNull()
      expect(r.deliveryId).toBe(`buildkite:${BUILD_ID}:build.finished:passed:blocked`)
    })

    it('maps every documented build state', () => {
      const cases = {
        scheduled: 'queued',
        waiting: 'queued',
        blocked: 'queued',
        running: 'running',
        failing: 'running',
        canceling: 'running',
        passed: 'success',
        failed: 'failure',
        waiting_failed: 'failure',
        canceled: 'canceled',
        skipped: 'skipped',
        not_run: 'skipped',
      }
      for (const [state, status] of Object.entries(cases)) {
        expect(update(buildEvent('build.running', buildObject(state))).update.status).toBe(status)
      }
    })

    it('takes the status from build.state even when the event name says otherwise', () => {
      const r = update(buildEvent('build.running', buildObject('passed')))
      expect(r.update.status).toBe('success')
    })

    it('uses the scheduled time for a scheduled build that has not started', () => {
      const r = update(buildEvent('build.scheduled', buildObject('scheduled')))
      expect(r.update.startedAt).toBeNull()
      expect(r.update.eventTime).toBe('2024-05-02T10:00:01.000Z')
    })

    it('ignores a build state it does not know, including prototype names', () => {
      for (const state of ['exploded', 'constructor']) {
        expect(send(buildEvent('build.running', buildObject(state))).kind).toBe('ignored')
      }
    })

    it('falls back to the API URL and the sender when web_url and creator are missing', () => {
      const bare = buildObject('running', { web_url: null, creator: null })
      const r = update(buildEvent('build.running', bare))
      expect(r.update.project).toBe('acme/web')
      expect(r.update.commit.author).toBeNull()
      expect(r.update.actor).toBe('Jane Doe')
      expect(r.update.url).toBeNull()
    })

    it('survives odd types and oversized text in optional fields', () => {
      const odd = buildObject('running', {
        number: '42',
        branch: ['main'],
        message: 7,
        creator: 'someone',
        pull_request: { id: 'not-a-number' },
        source: 's'.repeat(500),
        started_at: 'soon',
      })
      const { update: u } = update(buildEvent('build.running', odd))
      expect(u.number).toBeNull()
      expect(u.branch).toBe('')
      expect(u.commit.subject).toBeNull()
      expect(u.pullRequest).toBeNull()
      expect(u.trigger).toHaveLength(100)
      expect(u.startedAt).toBeNull()
    })

    it('throws BadPayload when a build event has no build object or build id', () => {
      const d = delivery(Buffer.from('{}'), {})
      expect(() => buildkite.normalize(d, { event: 'build.running' })).toThrow(BadPayload)
      const noId = JSON.parse(buildRunning())
      delete noId.build.id
      expect(() => buildkite.normalize(d, noId)).toThrow(BadPayload)
    })
  })

  describe('job events', () => {
    it('maps job.started to a running job update that keeps the build running', () => {
      const r = update(jobStarted())
      expect(r.event).toBe('job.started')
      expect(r.deliveryId).toBe(`buildkite:${BUILD_ID}:job.started:${JOB_ID}:running`)
      expectFields(r.update, {
        ...build,
        fromJob: true,
        jobs: [{ ...job, status: 'running', finishedAt: null }],
        eventTime: job.startedAt,
      })
    })

    it('maps a failed job.finished to a failed job but never finishes the build', () => {
      const r = update(jobFinished('failed'))
      expect(r.deliveryId).toBe(`buildkite:${BUILD_ID}:job.finished:${JOB_ID}:failed`)
      expectFields(r.update, {
        ...build,
        status: 'running',
        fromJob: true,
        jobs: [{ ...job, status: 'failure', finishedAt: '2024-05-02T10:02:40.000Z' }],
        eventTime: '2024-05-02T10:02:40.000Z',
      })
    })

    it('maps a passed job.finished to a successful job', () => {
      const r = update(jobFinished('passed'))
      expect(r.update.jobs[0]!.status).toBe('success')
      expect(r.update.status).toBe('running')
    })

    it('marks the build queued for job.scheduled', () => {
      const r = update(jobEvent('job.scheduled', jobObject('scheduled'), 'scheduled'))
      expect(r.update.status).toBe('queued')
      expect(r.update.jobs[0]!.status).toBe('queued')
      expect(r.update.jobs[0]!.startedAt).toBeNull()
    })

    it('throws BadPayload when a job event has no job', () => {
      const body = JSON.parse(jobStarted())
      delete body.job
      expect(() => buildkite.normalize(delivery(Buffer.from('{}'), {}), body)).toThrow(BadPayload)
    })

    it('ignores job and agent events that say nothing about build progress', () => {
      expect(send(jobEvent('job.activated', jobObject('unblocked'))).kind).toBe('ignored')
      expect(send(JSON.stringify({ event: 'agent.connected', agent: {} })).kind).toBe('ignored')
    })
  })

  describe('verify', () => {
    const raw = Buffer.from(buildRunning())
    const headers = { 'x-buildkite-event': 'build.running' }

    it('accepts the documented signature test vector', () => {
      const hex = 'c10b4d2b6c3cb6dbfcc931c4db57b1804809674eb93867e79b204e2849a29304'
      const d = delivery(Buffer.from('{"event":"ping"}'), {}, {
        'x-buildkite-signature': `timestamp=1619071700,signature=${hex}`,
      })
      d.receivedAt = 1619071700_000 + 2_000
      const docSecrets = { BUILDKITE_WEBHOOK_TOKEN: ['secret-token'] }
      expect(buildkite.verify(d, docSecrets)).toEqual({ ok: true })
    })

    it('accepts the token mode with the configured token', () => {
      const d = delivery(raw, headers, signToken(raw, SECRET))
      expect(buildkite.verify(d, secrets)).toEqual({ ok: true })
    })

    it('rejects the token mode with a wrong token', () => {
      const d = delivery(raw, headers, signToken(raw, 'nope'))
      expect(buildkite.verify(d, secrets).ok).toBe(false)
    })

    it('rejects a signature made with the wrong token', () => {
      const d = delivery(raw, headers, sign(raw, 'nope', NOW))
      expect(buildkite.verify(d, secrets).ok).toBe(false)
    })

    it('rejects a body changed by one byte after signing', () => {
      const tampered = Buffer.from(raw)
      tampered[5] = tampered[5]! ^ 1
      const d = delivery(tampered, headers, sign(raw, SECRET, NOW))
      expect(buildkite.verify(d, secrets).ok).toBe(false)
    })

    it('rejects a delivery with neither a signature nor a token header', () => {
      const r = buildkite.verify(delivery(raw, headers, {}), secrets)
      expect(r).toEqual({ ok: false, reason: expect.stringContaining('X-Buildkite-Signature') })
    })

    it('rejects a malformed signature header', () => {
      for (const value of ['signature=abc', 'timestamp=soon,signature=abc', 'timestamp=1']) {
        const d = delivery(raw, headers, { 'x-buildkite-signature': value })
        expect(buildkite.verify(d, secrets).ok).toBe(false)
      }
    })

    it('rejects a signature stamped six minutes ago', () => {
      const d = delivery(raw, headers, sign(raw, SECRET, NOW - 6 * 60_000))
      expect(buildkite.verify(d, secrets)).toEqual({
        ok: false,
        reason: expect.stringContaining('5 minutes'),
      })
    })

    it('rejects a signature stamped six minutes in the future', () => {
      const d = delivery(raw, headers, sign(raw, SECRET, NOW + 6 * 60_000))
      expect(buildkite.verify(d, secrets).ok).toBe(false)
    })

    it('accepts a signature stamped four minutes ago', () => {
      const d = delivery(raw, headers, sign(raw, SECRET, NOW - 4 * 60_000))
      expect(buildkite.verify(d, secrets)).toEqual({ ok: true })
    })

    it('names the variable to set when no token is configured', () => {
      for (const s of noSecrets('BUILDKITE_WEBHOOK_TOKEN')) {
        expect(buildkite.verify(delivery(raw, headers), s)).toEqual({
          ok: false,
          reason: expect.stringContaining('BUILDKITE_WEBHOOK_TOKEN'),
        })
      }
    })

    it('accepts both the old and the new token during rotation, in both modes', () => {
      const rotating = { BUILDKITE_WEBHOOK_TOKEN: ['old-token', 'new-token'] }
      for (const t of ['old-token', 'new-token']) {
        expect(buildkite.verify(delivery(raw, headers, sign(raw, t, NOW)), rotating).ok).toBe(true)
        expect(buildkite.verify(delivery(raw, headers, signToken(raw, t)), rotating).ok).toBe(true)
      }
    })
  })
})
