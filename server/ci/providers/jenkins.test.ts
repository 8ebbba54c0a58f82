import { describe, expect, it } from 'vitest'
import { loadFixture } from '../../test/fixtures.ts'
import { delivery, providerCases, without, type Expected } from '../../test/provider-cases.ts'
import { sign } from '../../test/sign/jenkins.ts'
import { jenkins } from './jenkins.ts'

const jk = providerCases(jenkins, sign, { JENKINS_WEBHOOK_TOKEN: 'jenkins-token' })

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

const expected: Record<string, Expected> = {
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
  jk.fixtureCases({
    expected,
    how: 'sent with user:token from the endpoint URL as HTTP Basic',
  })

  describe('verify', () => {
    const f = loadFixture('jenkins', 'notification-started')
    const withQuery = (token: string) => delivery(f, {}, `http://x/hooks/jenkins?token=${token}`)

    jk.verifyCases({
      sample: f,
      tamperable: false,
      noun: 'token',
      reasons: {
        wrongSecret: 'Jenkins token does not match',
        missing: 'missing credentials: put user:token in the endpoint URL or add ?token=',
      },
    })

    it('accepts a Bearer token', () => {
      const d = jk.withAuth(f, { authorization: `Bearer ${jk.secret}` })
      expect(jenkins.verify(d, jk.secrets)).toEqual({ ok: true })
    })

    it('accepts a ?token= query parameter for setups that can only configure a URL', () => {
      expect(jenkins.verify(withQuery(jk.secret), jk.secrets)).toEqual({ ok: true })
    })

    it('rejects a wrong token as a Bearer credential or in the query', () => {
      const wrong = [jk.withAuth(f, { authorization: 'Bearer nope' }), withQuery('nope')]
      for (const d of wrong) {
        expect(jenkins.verify(d, jk.secrets)).toEqual({
          ok: false,
          reason: 'Jenkins token does not match',
        })
      }
    })

    it('rejects an empty token even if an empty secret slipped into the list', () => {
      const emptyListed = { JENKINS_WEBHOOK_TOKEN: ['', jk.secret] }
      expect(jenkins.verify(withQuery(''), emptyListed).ok).toBe(false)
    })
  })

  describe('normalize', () => {
    const START = 1_714_644_000_000

    it('maps QUEUED to queued with the enqueue time', () => {
      const { update: u } = jk.build(phase('QUEUED', { timestamp: START - 5_000, duration: 0 }))
      expect(u).toMatchObject({ status: 'queued', queuedAt: '2024-05-02T09:59:55.000Z' })
      expect(u.startedAt).toBeNull()
      expect(u.durationMs).toBeNull()
    })

    it('derives the start from a current COMPLETED payload: timestamp minus duration', () => {
      const done = { status: 'SUCCESS', timestamp: START + 90_000, duration: 90_000 }
      const { update: u } = jk.build(phase('COMPLETED', done))
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
        const r = jk.build(body)
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
      jk.expectStatuses(cases, (status) => phase('COMPLETED', { status }))
    })

    it('ignores an unknown phase and a terminal phase without a known result', () => {
      jk.expectIgnored(phase('DELETED'))
      jk.expectIgnored(phase('COMPLETED'))
      jk.expectIgnored(phase('COMPLETED', { status: 'constructor' }))
    })

    it('strips origin/ and refs/heads/ from the branch and reads a tag ref as a tag', () => {
      const branch = (b: string) => jk.build(phase('STARTED', { scm: { branch: b } })).update
      expect(branch('origin/feature/x').branch).toBe('feature/x')
      expect(branch('refs/heads/main').branch).toBe('main')
      expect(branch('refs/remotes/origin/dev').branch).toBe('dev')
      expect(branch('refs/tags/v3')).toMatchObject({ branch: '', tag: 'v3' })
    })

    it('lists the culprits as the actor', () => {
      const u = jk.build(phase('STARTED', { scm: { culprits: ['alice', 'bob'] } })).update
      expect(u.actor).toBe('alice, bob')
    })

    const started = phase('STARTED')
    jk.badPayloadCases({
      'throws BadPayload when the build, name, number or phase is missing': [
        without(started, 'build'),
        without(started, 'name'),
        without(started, 'build.number'),
        without(started, 'build.phase'),
        null,
        [],
      ],
    })

    it('survives odd types and oversized text in optional fields', () => {
      const body = phase('COMPLETED', {
        status: 'SUCCESS',
        full_url: 42,
        timestamp: undefined,
        duration: -5,
        scm: { branch: ['main'], commit: 'c'.repeat(500), culprits: 'alice' },
      })
      body.display_name = { text: 'x' }
      body.name = 'n'.repeat(1000)
      const { update: u } = jk.build(body)
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
