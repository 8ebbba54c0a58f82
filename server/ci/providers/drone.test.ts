import { createHash, createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { buildUpdateSchema, type BuildUpdate } from '../model.ts'
import { BadPayload, type Delivery } from '../provider.ts'
import { fixtureNames, loadFixture } from '../../test/fixtures.ts'
import { sign } from '../../test/sign/drone.ts'
import { drone } from './drone.ts'

const SECRET = 'drone-secret'
const secrets = { DRONE_WEBHOOK_SECRET: [SECRET] }
/** Unset, empty, and only an empty string: each means nothing is configured. */
const noSecrets = (v: string): Record<string, string[]>[] => [{}, { [v]: [] }, { [v]: [''] }]
const NOW = Date.parse('2024-05-02T10:00:00Z')

function delivery(raw: Buffer, headers: Record<string, string>, auth = sign(raw, SECRET, NOW)) {
  const d: Delivery = {
    headers: new Headers({ ...headers, ...auth }),
    raw,
    url: new URL('http://x/hooks/drone'),
    receivedAt: NOW,
  }
  return d
}

const BUILD = { 'content-type': 'application/json', 'x-drone-event': 'build' }

function update(body: unknown) {
  const r = drone.normalize(delivery(Buffer.from('{}'), BUILD), body)
  if (r.kind !== 'build') throw new Error(`expected a build, got ${r.kind}`)
  expect(() => buildUpdateSchema.parse(r.update)).not.toThrow()
  return r.update
}

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

const expected: Record<string, { deliveryId: string; update: BuildUpdate }> = {
  'build-created': {
    deliveryId: 'drone:100207:created:pending:1',
    // started/finished are filled in this pending example; they must not leak through.
    update: base,
  },
  'build-updated': {
    deliveryId: 'drone:100207:updated:started:3',
    update: {
      ...base,
      status: 'running',
      startedAt: T0,
      jobs: [{ ...stage, status: 'running', finishedAt: null }],
    },
  },
  'build-completed': {
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
  it('has an expectation for every Drone fixture', () => {
    expect(fixtureNames('drone').sort()).toEqual(Object.keys(expected).sort())
  })

  describe.each(fixtureNames('drone'))('fixture %s', (name) => {
    const f = loadFixture('drone', name)
    const want = expected[name]!

    it('verifies when signed with the configured secret', () => {
      expect(drone.verify(delivery(f.raw, f.headers), secrets)).toEqual({ ok: true })
    })

    it('normalizes to the expected build update, field by field', () => {
      const r = drone.normalize(delivery(f.raw, f.headers), f.body)
      expect(r.kind).toBe('build')
      if (r.kind !== 'build') return
      expect(r.event).toBe('build')
      expect(r.deliveryId).toBe(want.deliveryId)
      for (const key of Object.keys(want.update) as (keyof BuildUpdate)[]) {
        expect({ [key]: r.update[key] }).toEqual({ [key]: want.update[key] })
      }
      expect(Object.keys(r.update).sort()).toEqual(Object.keys(want.update).sort())
      expect(() => buildUpdateSchema.parse(r.update)).not.toThrow()
    })
  })

  describe('verify', () => {
    const f = loadFixture('drone', 'build-completed')

    it('rejects a signature made with the wrong secret', () => {
      const d = delivery(f.raw, f.headers, sign(f.raw, 'nope', NOW))
      expect(drone.verify(d, secrets).ok).toBe(false)
    })

    it('rejects a body changed by one byte after signing', () => {
      const tampered = Buffer.from(f.raw)
      tampered[20] = tampered[20]! ^ 1
      const r = drone.verify(delivery(tampered, f.headers, sign(f.raw, SECRET, NOW)), secrets)
      expect(r).toEqual({ ok: false, reason: expect.stringContaining('Digest') })
    })

    it('rejects a changed body whose Digest was recomputed but not re-signed', () => {
      const tampered = Buffer.from(f.raw)
      tampered[20] = tampered[20]! ^ 1
      const auth = sign(f.raw, SECRET, NOW)
      auth.digest = `SHA-256=${createHash('sha256').update(tampered).digest('base64')}`
      const r = drone.verify(delivery(tampered, f.headers, auth), secrets)
      expect(r).toEqual({ ok: false, reason: 'Signature does not match' })
    })

    it('rejects a Digest computed over another body, even when correctly signed', () => {
      const auth = sign(Buffer.from('{"other":"body"}'), SECRET, NOW)
      expect(drone.verify(delivery(f.raw, f.headers, auth), secrets).ok).toBe(false)
    })

    it('rejects a Date six minutes old or six minutes ahead', () => {
      for (const at of [NOW - 6 * 60_000, NOW + 6 * 60_000]) {
        const r = drone.verify(delivery(f.raw, f.headers, sign(f.raw, SECRET, at)), secrets)
        expect(r).toEqual({ ok: false, reason: expect.stringContaining('Date') })
      }
    })

    it('accepts a Date four minutes old', () => {
      const auth = sign(f.raw, SECRET, NOW - 4 * 60_000)
      expect(drone.verify(delivery(f.raw, f.headers, auth), secrets)).toEqual({ ok: true })
    })

    it('rejects a delivery missing the Signature, Digest or Date header', () => {
      for (const header of ['signature', 'digest', 'date']) {
        const auth = sign(f.raw, SECRET, NOW)
        delete auth[header]
        expect(drone.verify(delivery(f.raw, f.headers, auth), secrets).ok).toBe(false)
      }
    })

    it('rejects a signature that does not cover the digest', () => {
      const auth = sign(f.raw, SECRET, NOW)
      const mac = createHmac('sha256', SECRET).update(`date: ${auth.date}`).digest('base64')
      auth.signature = `keyId="hmac-key",algorithm="hmac-sha256",signature="${mac}",headers="date"`
      const r = drone.verify(delivery(f.raw, f.headers, auth), secrets)
      expect(r).toEqual({ ok: false, reason: expect.stringContaining('digest') })
    })

    it('rejects another algorithm and unusable header names without throwing', () => {
      for (const signature of [
        'keyId="k",algorithm="rsa-sha256",signature="abc",headers="date digest"',
        'keyId="k",algorithm="hmac-sha256",signature="abc",headers="date digest b@d(x"',
        'keyId="k",algorithm="hmac-sha256",headers="date digest"',
      ]) {
        const auth = { ...sign(f.raw, SECRET, NOW), signature }
        expect(drone.verify(delivery(f.raw, f.headers, auth), secrets).ok).toBe(false)
      }
    })

    it('builds the signing string from the listed headers in their order', () => {
      const auth = sign(f.raw, SECRET, NOW)
      const text = `digest: ${auth.digest}\n(request-target): post /hooks/drone\ndate: ${auth.date}`
      const mac = createHmac('sha256', SECRET).update(text).digest('base64')
      const listed = 'headers="digest (request-target) date"'
      auth.signature = `keyId="k",algorithm="hmac-sha256",signature="${mac}",${listed}`
      expect(drone.verify(delivery(f.raw, f.headers, auth), secrets)).toEqual({ ok: true })
    })

    it('names the variable to set when no secret is configured', () => {
      for (const s of noSecrets('DRONE_WEBHOOK_SECRET')) {
        expect(drone.verify(delivery(f.raw, f.headers), s)).toEqual({
          ok: false,
          reason: expect.stringContaining('DRONE_WEBHOOK_SECRET'),
        })
      }
    })

    it('accepts both the old and the new secret during rotation', () => {
      const rotating = { DRONE_WEBHOOK_SECRET: ['old-secret', 'new-secret'] }
      for (const s of ['old-secret', 'new-secret']) {
        const d = delivery(f.raw, f.headers, sign(f.raw, s, NOW))
        expect(drone.verify(d, rotating).ok).toBe(true)
      }
    })
  })

  describe('normalize', () => {
    const body = () => loadFixture('drone', 'build-completed').body

    it('ignores user and repo events', () => {
      for (const event of ['user', 'repo']) {
        const d = delivery(Buffer.from('{}'), { 'x-drone-event': event })
        const r = drone.normalize(d, { action: 'created', repo: body().repo })
        expect(r).toMatchObject({ kind: 'ignored', event })
      }
    })

    it('throws BadPayload when a build event lacks the build or the repo', () => {
      const noBuild = body()
      delete noBuild.build
      const noRepo = body()
      delete noRepo.repo
      const d = delivery(Buffer.from('{}'), BUILD)
      for (const b of [noBuild, noRepo, null, 'x']) {
        expect(() => drone.normalize(d, b)).toThrow(BadPayload)
      }
    })

    it('maps killed to canceled, error to failure and skipped to skipped', () => {
      const cases = { killed: 'canceled', error: 'failure', skipped: 'skipped', blocked: 'queued' }
      for (const [given, status] of Object.entries(cases)) {
        const b = body()
        b.build.status = given
        expect(update(b).status).toBe(status)
      }
    })

    it('ignores a status it does not know, including prototype names', () => {
      for (const status of ['exploded', 'constructor']) {
        const b = body()
        b.build.status = status
        expect(drone.normalize(delivery(Buffer.from('{}'), BUILD), b).kind).toBe('ignored')
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
