import { createHash, createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import type { BuildUpdate } from '../model.ts'
import { loadFixture } from '../../test/fixtures.ts'
import { flipByte, providerCases, withField, without } from '../../test/provider-cases.ts'
import type { Expected } from '../../test/provider-cases.ts'
import { sign } from '../../test/sign/drone.ts'
import { drone } from './drone.ts'

const NOW = Date.parse('2024-05-02T10:00:00Z')
const dr = providerCases(drone, sign, { DRONE_WEBHOOK_SECRET: 'drone-secret' }, { now: NOW })

/** An empty body sent as a build event; tests pass the parsed body separately. */
const BUILD = { raw: '{}', headers: { 'x-drone-event': 'build' } }
const update = (body: unknown) => dr.build(body, BUILD).update

const T0 = '2019-07-25T20:17:54.000Z'
const T1 = '2019-07-25T20:25:43.000Z'

const base: BuildUpdate = {
  provider: 'drone',
  externalId: '100207',
  attempt: 1,
  project: 'octocat/hello-world',
  pipeline: 'drone',
  // A pull_request build: its source branch, although the docs example's ref says master.
  branch: 'develop',
  tag: null,
  pullRequest: null,
  number: 42,
  status: 'queued',
  commit: {
    sha: '9fc1ad6ebf12462f3f9773003e26b4c6f54a772e',
    subject: 'updated README',
    author: 'The Octocat',
  },
  actor: 'bradrydzewski',
  url: null,
  trigger: 'pull_request',
  queuedAt: T0,
  startedAt: null,
  finishedAt: null,
  durationMs: null,
  jobs: [],
  fromJob: false,
  eventTime: T0,
}

const stage = { id: '199937', name: 'default', startedAt: T0, url: null }

const expected: Record<string, Expected> = {
  'build-created': {
    event: 'build',
    deliveryId: 'drone:100207:created:pending:1',
    // started/finished are filled in this pending example; they must not leak through.
    update: base,
  },
  'build-updated': {
    event: 'build',
    deliveryId: 'drone:100207:updated:started:3',
    update: {
      ...base,
      status: 'running',
      startedAt: T0,
      jobs: [{ ...stage, status: 'running', finishedAt: null }],
    },
  },
  'build-completed': {
    event: 'build',
    deliveryId: 'drone:100207:completed:success:3',
    update: {
      ...base,
      status: 'success',
      startedAt: T0,
      finishedAt: T1,
      durationMs: 469_000,
      jobs: [{ ...stage, status: 'success', finishedAt: T1 }],
      eventTime: T1,
    },
  },
}

describe('drone provider', () => {
  dr.fixtureCases({ expected })

  describe('verify', () => {
    const f = loadFixture('drone', 'build-completed')
    const send = (auth: Record<string, string>) => dr.withAuth(f, auth)

    dr.verifyCases({
      sample: f,
      tamperable: true,
      reasons: {
        wrongSecret: 'Signature does not match',
        tampered: 'Digest does not match the body',
        missing: 'missing Signature header',
      },
    })

    it('rejects a changed body whose Digest was recomputed but not re-signed', () => {
      const tampered = flipByte(f.raw, 20)
      const auth = sign(f.raw, dr.secret, NOW)
      auth.digest = `SHA-256=${createHash('sha256').update(tampered).digest('base64')}`
      const r = drone.verify(dr.withAuth({ ...f, raw: tampered }, auth), dr.secrets)
      expect(r).toEqual({ ok: false, reason: 'Signature does not match' })
    })

    it('rejects a Digest computed over another body, even when correctly signed', () => {
      const auth = sign(Buffer.from('{"other":"body"}'), dr.secret, NOW)
      expect(drone.verify(send(auth), dr.secrets).ok).toBe(false)
    })

    it('rejects a Date six minutes old or six minutes ahead', () => {
      for (const at of [NOW - 6 * 60_000, NOW + 6 * 60_000]) {
        const r = drone.verify(send(sign(f.raw, dr.secret, at)), dr.secrets)
        expect(r).toEqual({ ok: false, reason: expect.stringContaining('Date') })
      }
    })

    it('accepts a Date four minutes old', () => {
      const auth = sign(f.raw, dr.secret, NOW - 4 * 60_000)
      expect(drone.verify(send(auth), dr.secrets)).toEqual({ ok: true })
    })

    it('rejects a delivery missing the Signature, Digest or Date header', () => {
      for (const header of ['signature', 'digest', 'date']) {
        const auth = sign(f.raw, dr.secret, NOW)
        delete auth[header]
        expect(drone.verify(send(auth), dr.secrets).ok).toBe(false)
      }
    })

    it('rejects a signature that does not cover the digest', () => {
      const auth = sign(f.raw, dr.secret, NOW)
      const mac = createHmac('sha256', dr.secret).update(`date: ${auth.date}`).digest('base64')
      auth.signature = `keyId="hmac-key",algorithm="hmac-sha256",signature="${mac}",headers="date"`
      const r = drone.verify(send(auth), dr.secrets)
      expect(r).toEqual({ ok: false, reason: expect.stringContaining('digest') })
    })

    it('rejects another algorithm and unusable header names without throwing', () => {
      for (const signature of [
        'keyId="k",algorithm="rsa-sha256",signature="abc",headers="date digest"',
        'keyId="k",algorithm="hmac-sha256",signature="abc",headers="date digest b@d(x"',
        'keyId="k",algorithm="hmac-sha256",headers="date digest"',
      ]) {
        const auth = { ...sign(f.raw, dr.secret, NOW), signature }
        expect(drone.verify(send(auth), dr.secrets).ok).toBe(false)
      }
    })

    it('builds the signing string from the listed headers in their order', () => {
      const auth = sign(f.raw, dr.secret, NOW)
      const text = `digest: ${auth.digest}\n(request-target): post /hooks/drone\ndate: ${auth.date}`
      const mac = createHmac('sha256', dr.secret).update(text).digest('base64')
      const listed = 'headers="digest (request-target) date"'
      auth.signature = `keyId="k",algorithm="hmac-sha256",signature="${mac}",${listed}`
      expect(drone.verify(send(auth), dr.secrets)).toEqual({ ok: true })
    })
  })

  describe('normalize', () => {
    const body = () => loadFixture('drone', 'build-completed').body

    it('ignores user and repo events', () => {
      for (const event of ['user', 'repo']) {
        const d = dr.signed({ raw: '{}', headers: { 'x-drone-event': event } })
        const r = drone.normalize(d, { action: 'created', repo: body().repo })
        expect(r).toMatchObject({ kind: 'ignored', event })
      }
    })

    dr.badPayloadCases(
      {
        'throws BadPayload when a build event lacks the build or the repo': [
          without(body(), 'build'),
          without(body(), 'repo'),
          null,
          'x',
        ],
      },
      BUILD
    )

    it('maps killed to canceled, error to failure and skipped to skipped', () => {
      const cases = { killed: 'canceled', error: 'failure', skipped: 'skipped', blocked: 'queued' }
      dr.expectStatuses(cases, (status) => withField(body(), 'build.status', status), BUILD)
    })

    it('ignores a status it does not know, including prototype names', () => {
      for (const status of ['exploded', 'constructor']) {
        const b = withField(body(), 'build.status', status)
        dr.expectIgnored(b, `unknown build status: ${status}`, BUILD)
      }
    })

    it('reads a push build branch from its ref', () => {
      const b = body()
      Object.assign(b.build, { event: 'push', ref: 'refs/heads/main', source: 'main' })
      expect(update(b)).toMatchObject({ branch: 'main', tag: null, pullRequest: null })
    })

    it('reads a tag build as a tag with no branch', () => {
      const b = body()
      Object.assign(b.build, { event: 'tag', ref: 'refs/tags/v1.0.0' })
      expect(update(b)).toMatchObject({ branch: '', tag: 'v1.0.0' })
    })

    it('reads the pull request number from a pull ref', () => {
      const b = body()
      b.build.ref = 'refs/pull/12/head'
      expect(update(b)).toMatchObject({ branch: 'develop', pullRequest: 12 })
    })

    it('falls back to repo and number when the build id is missing', () => {
      const b = body()
      delete b.build.id
      expect(update(b).externalId).toBe('octocat/hello-world#42')
    })

    it('survives odd types and oversized text in optional fields', () => {
      const b = body()
      Object.assign(b.build, {
        number: '42',
        message: { text: 'x' },
        sender: 's'.repeat(1000),
        started: 'soon',
        stages: [null, { id: 'x', status: 'success' }, 'stage'],
      })
      const u = update(b)
      expect(u.number).toBeNull()
      expect(u.commit.subject).toBeNull()
      expect(u.actor).toHaveLength(200)
      expect(u.startedAt).toBeNull()
      expect(u.jobs).toEqual([])
    })
  })
})
