import { describe, expect, it } from 'vitest'
import { loadFixture } from '../../test/fixtures.ts'
import { delivery, providerCases, withField, without } from '../../test/provider-cases.ts'
import type { Expected } from '../../test/provider-cases.ts'
import { sign } from '../../test/sign/circleci.ts'
import { circleci } from './circleci.ts'

const cc = providerCases(circleci, sign, { CIRCLECI_WEBHOOK_SECRET: 'circle-secret' })

const oauthCommit = {
  sha: '1dc6aa69429bff4806ad6afe58d3d8f57e25973e',
  subject: 'Description of change',
  author: 'Author Name',
}
const gitlabCommit = {
  sha: '850a1519f25d14e968649cc420d1bd381715c05c',
  subject: 'Update README.md',
  author: 'Commit Author',
}
const appCommit = {
  sha: '9e2e4bed59d2e6c51d00e0e0b49f1b79ff146ab1',
  subject: 'CircleCI Commit',
  author: null,
}
// The GitHub App fixture blanks every repo name and URL: only the opaque slug identifies it.
const appProject = '9z8PamRuKaKWrW91o7Kqvn/AHWysFUuUfBgs6VeUqm6tg'

const base = {
  provider: 'circleci' as const,
  attempt: 1,
  tag: null,
  pullRequest: null,
  queuedAt: null,
}

const expected: Record<string, Expected> = {
  'workflow-completed-success-github-oauth': {
    event: 'workflow-completed',
    deliveryId: '3888f21b-eaa7-38e3-8f3d-75a63bba8895',
    update: {
      ...base,
      externalId: 'fda08377-fe7e-46b1-8992-3a7aaecac9c3',
      project: 'circleci/webhook-service',
      pipeline: 'build-test-deploy',
      branch: 'main',
      number: 130,
      status: 'success',
      commit: oauthCommit,
      actor: 'Author Name',
      url: 'https://app.circleci.com/pipelines/github/circleci/webhook-service/130/workflows/fda08377-fe7e-46b1-8992-3a7aaecac9c3',
      trigger: 'webhook',
      startedAt: '2021-09-01T22:49:03.616Z',
      finishedAt: '2021-09-01T22:49:34.170Z',
      durationMs: 30_554,
      jobs: [],
      fromJob: false,
      eventTime: '2021-09-01T22:49:34.317Z',
    },
  },
  'job-completed-success-github-oauth': {
    event: 'job-completed',
    deliveryId: '8bd71c28-4969-3677-8940-3e3a61c46660',
    update: {
      ...base,
      externalId: 'fda08377-fe7e-46b1-8992-3a7aaecac9c3',
      project: 'circleci/webhook-service',
      // The docs sample names the same workflow id 'welcome' here and 'build-test-deploy' above.
      pipeline: 'welcome',
      branch: 'main',
      number: 130,
      status: 'running',
      commit: oauthCommit,
      actor: 'Author Name',
      url: 'https://app.circleci.com/pipelines/github/circleci/webhook-service/130/workflows/fda08377-fe7e-46b1-8992-3a7aaecac9c3',
      trigger: 'webhook',
      startedAt: '2021-09-01T22:49:03.616Z',
      finishedAt: null,
      durationMs: null,
      jobs: [
        {
          id: '8b91f9a8-7975-4e60-916c-f0152ccbc937',
          name: 'test',
          status: 'success',
          startedAt: '2021-09-01T22:49:28.841Z',
          finishedAt: '2021-09-01T22:49:34.170Z',
          url: null,
        },
      ],
      fromJob: true,
      carriesBuild: true,
      eventTime: '2021-09-01T22:49:34.279Z',
    },
  },
  'workflow-completed-failed-gitlab-trigger': {
    event: 'workflow-completed',
    deliveryId: 'cbabbb40-6084-4f91-8311-a326c0f4963a',
    update: {
      ...base,
      externalId: 'c2006ece-778d-49fc-9e6e-b9965f72bee9',
      project: 'circleci/hello-world',
      pipeline: 'build',
      branch: 'main',
      number: 1,
      status: 'failure',
      commit: gitlabCommit,
      actor: 'username',
      url: 'https://app.circleci.com/pipelines/circleci/DdaVtNusHqi24D4YT3X4eu/6EkDPZoN4ZdMKKZtBkRodt/1/workflows/c2006ece-778d-49fc-9e6e-b9965f72bee9',
      trigger: 'gitlab',
      startedAt: '2022-05-27T16:20:07.631Z',
      finishedAt: '2022-05-27T16:20:13.812Z',
      durationMs: 6181,
      jobs: [],
      fromJob: false,
      eventTime: '2022-05-27T16:20:13.954Z',
    },
  },
  'workflow-completed-success-github-app': {
    event: 'workflow-completed',
    deliveryId: 'ab1491fb-c4ae-3496-a958-c248b4732020',
    update: {
      ...base,
      externalId: '7acc6aa9-aac0-40ac-8cf1-48fca8d8455d',
      project: appProject,
      pipeline: 'say-hello-workflow',
      branch: 'circleci-project-setup',
      number: 5,
      status: 'success',
      commit: appCommit,
      actor: null,
      url: null,
      trigger: 'api',
      startedAt: '2024-12-18T18:44:20.682Z',
      finishedAt: '2024-12-18T18:44:37.867Z',
      durationMs: 17_185,
      jobs: [],
      fromJob: false,
      eventTime: '2024-12-18T18:44:38.000Z',
    },
  },
  'job-completed-success-github-app': {
    event: 'job-completed',
    deliveryId: '1c457f7f-5b15-341b-9b86-6370d1357f61',
    update: {
      ...base,
      externalId: 'c5aa9edf-4de9-43fd-b50e-2bfd75e32cb1',
      project: appProject,
      pipeline: 'say-hello-workflow',
      branch: 'circleci-project-setup',
      number: 5,
      status: 'running',
      commit: appCommit,
      actor: null,
      url: 'https://app.circleci.com/pipelines/circleci/9z8PamRuKaKWrW91o7Kqvn/AHWysFUuUfBgs6VeUqm6tg/5/workflows/c5aa9edf-4de9-43fd-b50e-2bfd75e32cb1',
      trigger: 'api',
      startedAt: '2024-12-18T18:51:06.137Z',
      finishedAt: null,
      durationMs: null,
      jobs: [
        {
          id: '00f06c85-7476-4a75-ba64-7daa608dc61e',
          name: 'say-hello',
          status: 'success',
          startedAt: '2024-12-18T18:51:09.357Z',
          finishedAt: '2024-12-18T18:51:31.300Z',
          url: null,
        },
      ],
      fromJob: true,
      carriesBuild: true,
      eventTime: '2024-12-18T18:51:31.379Z',
    },
  },
  // Verifies but is deliberately not a build: with no workflow object in this shape, a build
  // keyed on the pipeline would never be finished.
  'job-completed-success-gitlab-trigger': {
    kind: 'ignored',
    event: 'job-completed',
    deliveryId: '47a497be-4498-4da0-a4e8-2dabd889af0f',
    reason: 'job-completed without a workflow: cannot attach the job to its build',
  },
}

describe('circleci provider', () => {
  cc.fixtureCases({ expected })

  describe('verify', () => {
    const f = loadFixture('circleci', 'workflow-completed-success-github-oauth')

    cc.verifyCases({
      sample: f,
      tamperable: true,
      reasons: {
        wrongSecret: 'circleci-signature does not match the body',
        missing: 'missing circleci-signature header',
      },
    })

    it('accepts the documented test vectors', () => {
      const cases = [
        ['hello world', '734cc62f32841568f45715aeb9f4d7891324e6d948e4c6c60c0621cdac48623a'],
        ['foo', '773ba44693c7553d6ee20f61ea5d2757a9a4f4a44d2841ae4e95b52e4cd62db4'],
      ]
      for (const [body, hex] of cases) {
        const d = delivery({ raw: body! }, { 'circleci-signature': `v1=${hex}` })
        expect(circleci.verify(d, { CIRCLECI_WEBHOOK_SECRET: ['secret'] })).toEqual({ ok: true })
      }
    })

    it('checks v1 among several versioned signatures and ignores the others', () => {
      const v1 = sign(f.raw, cc.secret)['circleci-signature']!
      const d = cc.withAuth(f, { 'circleci-signature': `v0=abc, ${v1},v2=def` })
      expect(circleci.verify(d, cc.secrets)).toEqual({ ok: true })
    })

    it('rejects a header that carries only an unknown version', () => {
      const hex = sign(f.raw, cc.secret)['circleci-signature']!.slice(3)
      const d = cc.withAuth(f, { 'circleci-signature': `v2=${hex}` })
      expect(circleci.verify(d, cc.secrets)).toEqual({
        ok: false,
        reason: 'circleci-signature has no v1 signature',
      })
    })
  })

  describe('normalize', () => {
    const wf = () => loadFixture('circleci', 'workflow-completed-success-github-oauth').body

    it('answers the test ping as a ping', () => {
      const r = cc.normalize({ type: 'ping', id: 'x' })
      expect(r).toEqual({ kind: 'ping', event: 'ping' })
    })

    it('ignores an event type it does not know', () => {
      cc.expectIgnored({ type: 'deploy-started' }, 'not a build event: deploy-started')
    })

    it('ignores a workflow status it does not know instead of guessing', () => {
      const body = withField(wf(), 'workflow.status', 'on_hold')
      cc.expectIgnored(body, 'unknown workflow status: on_hold')
    })

    it('maps error and unauthorized to failure and canceled to canceled', () => {
      const cases = { error: 'failure', unauthorized: 'failure', canceled: 'canceled' }
      cc.expectStatuses(cases, (status) => withField(wf(), 'workflow.status', status))
    })

    it('does not read a status from the object prototype', () => {
      cc.expectIgnored(withField(wf(), 'workflow.status', 'constructor'))
    })

    cc.badPayloadCases({
      'throws BadPayload when a workflow-completed body has no workflow': [without(wf(), 'workflow')],
      'throws BadPayload when the pipeline or the event id is missing': [
        without(wf(), 'pipeline'),
        without(wf(), 'id'),
        null,
        [],
        'text',
      ],
    })

    it('takes a tag from the OAuth shape and keeps the branch empty', () => {
      const body = wf()
      delete body.pipeline.vcs.branch
      body.pipeline.vcs.tag = 'v1.2.0'
      const { update } = cc.build(body)
      expect(update.branch).toBe('')
      expect(update.tag).toBe('v1.2.0')
    })

    it('uses only the first line of a multi-line commit message', () => {
      const body = loadFixture('circleci', 'workflow-completed-failed-gitlab-trigger').body
      body.pipeline.trigger_parameters.gitlab.commit_message = '  Fix the thing  \n\nLong body'
      expect(cc.build(body).update.commit.subject).toBe('Fix the thing')
    })

    it('derives the project from the GitHub App repo URL when CircleCI sends one', () => {
      const body = loadFixture('circleci', 'workflow-completed-success-github-app').body
      body.pipeline.trigger_parameters.github_app.repo_url = 'https://github.com/acme/web'
      expect(cc.build(body).update.project).toBe('acme/web')
    })

    it('survives odd types and oversized text in optional fields', () => {
      const body = wf()
      body.pipeline.number = '130'
      body.pipeline.vcs.branch = 42
      body.pipeline.vcs.commit = 'not an object'
      body.workflow.name = 'w'.repeat(5000)
      body.workflow.url = { href: 'x' }
      body.workflow.created_at = 'yesterday'
      const { update } = cc.build(body)
      expect(update.number).toBeNull()
      expect(update.branch).toBe('')
      expect(update.commit).toEqual({ sha: oauthCommit.sha, subject: null, author: null })
      expect(update.pipeline).toHaveLength(300)
      expect(update.url).toBeNull()
      expect(update.startedAt).toBeNull()
    })
  })
})
