import { describe, expect, it } from 'vitest'
import type { BuildUpdate } from '../model.ts'
import { delivery, expectFields, providerCases, without } from '../../test/provider-cases.ts'
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

const NOW = Date.parse('2024-05-02T10:05:00Z')
const bk = providerCases(buildkite, sign, { BUILDKITE_WEBHOOK_TOKEN: 'bk-token' }, { now: NOW })

/** A constructed body as Buildkite sends it (event header, signed raw bytes); it must verify. */
function sent(json: string) {
  const event = JSON.parse(json).event as string
  const headers = { 'content-type': 'application/json', 'x-buildkite-event': event }
  const s = { raw: json, headers }
  expect(buildkite.verify(bk.signed(s), bk.secrets)).toEqual({ ok: true })
  return s
}

const send = (json: string) => bk.normalize(JSON.parse(json), sent(json))
const update = (json: string) => bk.build(JSON.parse(json), sent(json))

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
  bk.fixtureCases({
    expected: { 'ping-go-buildkite-test': { kind: 'ping', event: 'ping' } },
    how: 'signed with the configured token',
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
      const states = {
        queued: ['scheduled', 'waiting', 'blocked'],
        running: ['running', 'failing', 'canceling'],
        success: ['passed'],
        failure: ['failed', 'waiting_failed'],
        canceled: ['canceled'],
        skipped: ['skipped', 'not_run'],
      }
      for (const [status, given] of Object.entries(states)) {
        for (const state of given) {
          const { update: u } = update(buildEvent('build.running', buildObject(state)))
          expect(u.status, state).toBe(status)
        }
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

    bk.badPayloadCases({
      'throws BadPayload when a build event has no build object or build id': [
        { event: 'build.running' },
        without(JSON.parse(buildRunning()), 'build.id'),
      ],
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
        carriesBuild: true,
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
        carriesBuild: true,
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

    bk.badPayloadCases({
      'throws BadPayload when a job event has no job': [without(JSON.parse(jobStarted()), 'job')],
    })

    it('ignores job and agent events that say nothing about build progress', () => {
      expect(send(jobEvent('job.activated', jobObject('unblocked'))).kind).toBe('ignored')
      expect(send(JSON.stringify({ event: 'agent.connected', agent: {} })).kind).toBe('ignored')
    })
  })

  describe('verify', () => {
    const sample = { raw: buildRunning(), headers: { 'x-buildkite-event': 'build.running' } }
    const raw = Buffer.from(sample.raw)

    bk.verifyCases({
      sample,
      tamperable: true,
      noun: 'token',
      reasons: {
        wrongSecret: 'X-Buildkite-Signature does not match the body',
        missing: 'missing X-Buildkite-Signature or X-Buildkite-Token header',
      },
    })

    it('accepts the documented signature test vector', () => {
      const hex = 'c10b4d2b6c3cb6dbfcc931c4db57b1804809674eb93867e79b204e2849a29304'
      const signature = { 'x-buildkite-signature': `timestamp=1619071700,signature=${hex}` }
      const d = delivery({ raw: '{"event":"ping"}' }, signature, undefined, 1619071700_000 + 2_000)
      const docSecrets = { BUILDKITE_WEBHOOK_TOKEN: ['secret-token'] }
      expect(buildkite.verify(d, docSecrets)).toEqual({ ok: true })
    })

    it('accepts the token mode with the configured token', () => {
      const d = bk.withAuth(sample, signToken(raw, bk.secret))
      expect(buildkite.verify(d, bk.secrets)).toEqual({ ok: true })
    })

    it('rejects the token mode with a wrong token', () => {
      const d = bk.withAuth(sample, signToken(raw, 'nope'))
      expect(buildkite.verify(d, bk.secrets)).toEqual({
        ok: false,
        reason: 'X-Buildkite-Token does not match',
      })
    })

    it('rejects a malformed signature header', () => {
      for (const value of ['signature=abc', 'timestamp=soon,signature=abc', 'timestamp=1']) {
        const d = bk.withAuth(sample, { 'x-buildkite-signature': value })
        expect(buildkite.verify(d, bk.secrets).ok).toBe(false)
      }
    })

    it('rejects a signature stamped six minutes ago', () => {
      const d = bk.withAuth(sample, sign(raw, bk.secret, NOW - 6 * 60_000))
      expect(buildkite.verify(d, bk.secrets)).toEqual({
        ok: false,
        reason: 'X-Buildkite-Signature timestamp is not within 5 minutes',
      })
    })

    it('rejects a signature stamped six minutes in the future', () => {
      const d = bk.withAuth(sample, sign(raw, bk.secret, NOW + 6 * 60_000))
      expect(buildkite.verify(d, bk.secrets).ok).toBe(false)
    })

    it('accepts a signature stamped four minutes ago', () => {
      const d = bk.withAuth(sample, sign(raw, bk.secret, NOW - 4 * 60_000))
      expect(buildkite.verify(d, bk.secrets)).toEqual({ ok: true })
    })

    it('accepts both the old and the new token during a rotation in token mode', () => {
      const rotating = { BUILDKITE_WEBHOOK_TOKEN: ['old-token', 'new-token'] }
      for (const t of ['old-token', 'new-token']) {
        const d = bk.withAuth(sample, signToken(raw, t))
        expect(buildkite.verify(d, rotating)).toEqual({ ok: true })
      }
    })
  })
})
