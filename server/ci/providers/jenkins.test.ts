import { describe, expect, it } from 'vitest'
import { buildUpdateSchema, type BuildUpdate } from '../model.ts'
import { BadPayload, type Delivery } from '../provider.ts'
import { fixtureNames, loadFixture } from '../../test/fixtures.ts'
import { sign } from '../../test/sign/jenkins.ts'
import { jenkins } from './jenkins.ts'

const SECRET = 'jenkins-token'
const secrets = { JENKINS_WEBHOOK_TOKEN: [SECRET] }
/** Unset, empty, and only an empty string: each means nothing is configured. */
const noSecrets = (v: string): Record<string, string[]>[] => [{}, { [v]: [] }, { [v]: [''] }]

function delivery(
  raw: Buffer,
  headers: Record<string, string> = {},
  auth = sign(raw, SECRET),
  url = 'http://x/hooks/jenkins'
) {
  const d: Delivery = {
    headers: new Headers({ ...headers, ...auth }),
    raw,
    url: new URL(url),
    receivedAt: Date.now(),
  }
  return d
}

function normalize(body: unknown) {
  return jenkins.normalize(delivery(Buffer.from('{}')), body)
}

function update(body: unknown) {
  const r = normalize(body)
  if (r.kind !== 'build') throw new Error(`expected a build, got ${r.kind}`)
  expect(() => buildUpdateSchema.parse(r.update)).not.toThrow()
  return r
}

const awesome = {
  provider: 'jenkins' as const,
  attempt: 1,
  project: 'Build my awesome project',
  pipeline: 'Build my awesome project',
  // Two of the three real payloads have no Git plugin data at all.
  branch: '',
  tag: null,
  pullRequest: null,
  commit: { sha: null, subject: null, author: null },
  actor: null,
  trigger: null,
  queuedAt: null,
  jobs: [],
  fromJob: false,
}

const expected: Record<string, { event: string; deliveryId: string; update: BuildUpdate }> = {
  'notification-started': {
    event: 'STARTED',
    deliveryId: 'jenkins:job/Build%20my%20awesome%20project/:3:STARTED',
    update: {
      ...awesome,
      externalId: 'job/Build%20my%20awesome%20project/#3',
      number: 3,
      status: 'running',
      url: 'http://ec2-18-130-79-165.eu-west-2.compute.amazonaws.com/job/Build%20my%20awesome%20project/3/',
      startedAt: '2018-09-26T12:55:42.240Z',
      finishedAt: null,
      durationMs: null,
      eventTime: '2018-09-26T12:55:42.240Z',
    },
  },
  'notification-completed-failure': {
    event: 'COMPLETED',
    deliveryId: 'jenkins:job/Build%20my%20awesome%20project/:19:COMPLETED:FAILURE',
    update: {
      ...awesome,
      externalId: 'job/Build%20my%20awesome%20project/#19',
      number: 19,
      status: 'failure',
      url: 'http://ec2-18-130-79-165.eu-west-2.compute.amazonaws.com/job/Build%20my%20awesome%20project/19/',
      // No `duration` in this 2018 payload, so the start can't be derived.
      startedAt: null,
      finishedAt: '2018-09-27T09:33:46.108Z',
      durationMs: null,
      eventTime: '2018-09-27T09:33:46.108Z',
    },
  },
  'notification-completed-unstable': {
    event: 'COMPLETED',
    deliveryId: 'jenkins:job/cookbook-test/:3885:COMPLETED:UNSTABLE',
    update: {
      ...awesome,
      externalId: 'job/cookbook-test/#3885',
      project: 'cookbook-test',
      pipeline: 'cookbook-test',
      branch: 'master',
      number: 3885,
      status: 'failure',
      commit: { sha: '5fd7ed5ea61ff8dab124d17c1c7dd23917f26ed3', subject: null, author: null },
      url: 'http://build1.use.dynamicyield.com:8080/job/cookbook-test/3885/',
      // A 2016 payload: no timestamp at all.
      startedAt: null,
      finishedAt: null,
      durationMs: null,
      eventTime: null,
    },
  },
}

/** The started fixture moved to another phase, as the current plugin sends it. */
function phase(p: string, extra: Record<string, unknown> = {}) {
  const body = loadFixture('jenkins', 'notification-started').body
  Object.assign(body.build, { phase: p, ...extra })
  return body
}

describe('jenkins provider', () => {
  it('has an expectation for every Jenkins fixture', () => {
    expect(fixtureNames('jenkins').sort()).toEqual(Object.keys(expected).sort())
  })

  describe.each(fixtureNames('jenkins'))('fixture %s', (name) => {
    const f = loadFixture('jenkins', name)
    const want = expected[name]!

    it('verifies with user:token from the endpoint URL as HTTP Basic', () => {
      expect(jenkins.verify(delivery(f.raw, f.headers), secrets)).toEqual({ ok: true })
    })

    it('normalizes to the expected build update, field by field', () => {
      const r = jenkins.normalize(delivery(f.raw, f.headers), f.body)
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
    const f = loadFixture('jenkins', 'notification-started')

    it('accepts a Bearer token', () => {
      const d = delivery(f.raw, f.headers, { authorization: `Bearer ${SECRET}` })
      expect(jenkins.verify(d, secrets)).toEqual({ ok: true })
    })

    it('accepts a ?token= query parameter for setups that can only configure a URL', () => {
      const d = delivery(f.raw, f.headers, {}, `http://x/hooks/jenkins?token=${SECRET}`)
      expect(jenkins.verify(d, secrets)).toEqual({ ok: true })
    })

    it('rejects a wrong token in Basic, Bearer or the query', () => {
      const wrong = [
        delivery(f.raw, f.headers, sign(f.raw, 'nope')),
        delivery(f.raw, f.headers, { authorization: 'Bearer nope' }),
        delivery(f.raw, f.headers, {}, 'http://x/hooks/jenkins?token=nope'),
      ]
      for (const d of wrong) expect(jenkins.verify(d, secrets).ok).toBe(false)
    })

    it('rejects a delivery without any credential', () => {
      const r = jenkins.verify(delivery(f.raw, f.headers, {}), secrets)
      expect(r).toEqual({ ok: false, reason: expect.stringContaining('missing credentials') })
    })

    it('rejects an empty token even if an empty secret slipped into the list', () => {
      const d = delivery(f.raw, f.headers, {}, 'http://x/hooks/jenkins?token=')
      expect(jenkins.verify(d, { JENKINS_WEBHOOK_TOKEN: ['', SECRET] }).ok).toBe(false)
    })

    it('names the variable to set when no token is configured', () => {
      for (const s of noSecrets('JENKINS_WEBHOOK_TOKEN')) {
        expect(jenkins.verify(delivery(f.raw, f.headers), s)).toEqual({
          ok: false,
          reason: expect.stringContaining('JENKINS_WEBHOOK_TOKEN'),
        })
      }
    })

    it('accepts both the old and the new token during rotation', () => {
      const rotating = { JENKINS_WEBHOOK_TOKEN: ['old-token', 'new-token'] }
      for (const t of ['old-token', 'new-token']) {
        expect(jenkins.verify(delivery(f.raw, f.headers, sign(f.raw, t)), rotating).ok).toBe(true)
      }
    })

    it('does not protect the body: Jenkins signs nothing, so a changed body still passes', () => {
      const tampered = Buffer.from(f.raw)
      tampered[10] = tampered[10]! ^ 1
      const d = delivery(tampered, f.headers, sign(f.raw, SECRET))
      expect(jenkins.verify(d, secrets).ok).toBe(true)
    })
  })

  describe('normalize', () => {
    const START = 1_714_644_000_000

    it('maps QUEUED to queued with the enqueue time', () => {
      const { update: u } = update(phase('QUEUED', { timestamp: START - 5_000, duration: 0 }))
      expect(u).toMatchObject({ status: 'queued', queuedAt: '2024-05-02T09:59:55.000Z' })
      expect(u.startedAt).toBeNull()
      expect(u.durationMs).toBeNull()
    })

    it('derives the start from a current COMPLETED payload: timestamp minus duration', () => {
      const done = { status: 'SUCCESS', timestamp: START + 90_000, duration: 90_000 }
      const { update: u } = update(phase('COMPLETED', done))
      expect(u).toMatchObject({
        status: 'success',
        startedAt: '2024-05-02T10:00:00.000Z',
        finishedAt: '2024-05-02T10:01:30.000Z',
        durationMs: 90_000,
        eventTime: '2024-05-02T10:01:30.000Z',
      })
    })

    it('treats FINALIZED and the older FINISHED as terminal but not as the finish time', () => {
      for (const p of ['FINALIZED', 'FINISHED']) {
        const body = phase(p, { status: 'SUCCESS', timestamp: START + 95_000, duration: 90_000 })
        const r = update(body)
        expect(r.update).toMatchObject({ status: 'success', finishedAt: null, durationMs: 90_000 })
        expect(r.update.eventTime).toBe('2024-05-02T10:01:35.000Z')
        expect(r.deliveryId).toBe(`jenkins:job/Build%20my%20awesome%20project/:3:${p}:SUCCESS`)
      }
    })

    it('maps every Jenkins result', () => {
      const cases = {
        SUCCESS: 'success',
        UNSTABLE: 'failure',
        FAILURE: 'failure',
        NOT_BUILT: 'skipped',
        ABORTED: 'canceled',
      }
      for (const [status, want] of Object.entries(cases)) {
        expect(update(phase('COMPLETED', { status })).update.status).toBe(want)
      }
    })

    it('ignores an unknown phase and a terminal phase without a known result', () => {
      expect(normalize(phase('DELETED')).kind).toBe('ignored')
      expect(normalize(phase('COMPLETED')).kind).toBe('ignored')
      expect(normalize(phase('COMPLETED', { status: 'constructor' })).kind).toBe('ignored')
    })

    it('strips origin/ and refs/heads/ from the branch and reads a tag ref as a tag', () => {
      const branch = (b: string) => update(phase('STARTED', { scm: { branch: b } })).update
      expect(branch('origin/feature/x').branch).toBe('feature/x')
      expect(branch('refs/heads/main').branch).toBe('main')
      expect(branch('refs/remotes/origin/dev').branch).toBe('dev')
      expect(branch('refs/tags/v3')).toMatchObject({ branch: '', tag: 'v3' })
    })

    it('lists the culprits as the actor', () => {
      const u = update(phase('STARTED', { scm: { culprits: ['alice', 'bob'] } })).update
      expect(u.actor).toBe('alice, bob')
    })

    it('throws BadPayload when the build, name, number or phase is missing', () => {
      const noBuild = phase('STARTED')
      delete noBuild.build
      const noName = phase('STARTED')
      delete noName.name
      const noNumber = phase('STARTED')
      delete noNumber.build.number
      const noPhase = phase('STARTED')
      delete noPhase.build.phase
      for (const body of [noBuild, noName, noNumber, noPhase, null, []]) {
        expect(() => normalize(body)).toThrow(BadPayload)
      }
    })

    it('survives odd types and oversized text in optional fields', () => {
      const body = phase('COMPLETED', {
        status: 'SUCCESS',
        full_url: 42,
        timestamp: 'yesterday',
        duration: -5,
        scm: { branch: ['main'], commit: 'c'.repeat(500), culprits: 'alice' },
      })
      body.display_name = { text: 'x' }
      body.name = 'n'.repeat(1000)
      const { update: u } = update(body)
      expect(u.url).toBeNull()
      expect(u.finishedAt).toBeNull()
      expect(u.durationMs).toBeNull()
      expect(u.branch).toBe('')
      expect(u.commit.sha).toHaveLength(80)
      expect(u.actor).toBeNull()
      expect(u.project).toHaveLength(300)
      expect(u.pipeline).toHaveLength(300)
    })
  })
})
