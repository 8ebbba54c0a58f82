import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import type { BuildUpdate } from '../model.ts'
import type { Job } from '../../../contract/builds.ts'
import type { Delivery } from '../provider.ts'
import { fixtureNames, loadFixture } from '../../test/fixtures.ts'
import { flipByte, noTimes, providerCases, withField } from '../../test/provider-cases.ts'
import type { Expected } from '../../test/provider-cases.ts'
import { sign, signStandard } from '../../test/sign/gitlab.ts'
import { gitlab } from './gitlab.ts'

const NOW = Date.parse('2026-03-01T12:00:00Z')
/** The classic secret token; the signing token has its own cases below. */
const gl = providerCases(gitlab, sign, { GITLAB_WEBHOOK_TOKEN: 's3cret-gitlab' }, { now: NOW })
const WHSEC = `whsec_${randomBytes(32).toString('base64')}`
const signingSecrets = { GITLAB_WEBHOOK_SIGNING_TOKEN: [WHSEC] }
const SAMPLE = 'pipeline-success-docs-example'

function signedDelivery(name: string, whsec = WHSEC, signedAt = NOW): Delivery {
  const f = loadFixture('gitlab', name)
  const id = f.headers['Idempotency-Key']!
  return gl.withAuth(f, signStandard(f.raw, whsec, id, signedAt))
}

const job = (
  id: number,
  name: string,
  status: Job['status'],
  startedAt: string | null,
  finishedAt: string | null,
  base: string
) => ({ id: String(id), name, status, startedAt, finishedAt, url: `${base}/-/jobs/${id}` })

const TEST_HOST = 'http://192.168.64.1:3005/gitlab-org/gitlab-test'

const docsPipeline: BuildUpdate = {
  provider: 'gitlab',
  externalId: '31',
  attempt: 1,
  project: 'gitlab-org/gitlab-test',
  pipeline: 'pipeline',
  branch: 'master',
  tag: null,
  pullRequest: 1,
  number: 123,
  status: 'success',
  commit: { sha: 'bcbb5ec396a2c0f828686f14fac9b80b780504f2', subject: 'test', author: 'User' },
  actor: 'user1',
  url: `${TEST_HOST}/-/pipelines/31`,
  trigger: 'merge_request_event',
  queuedAt: '2016-08-12T15:23:28.000Z',
  // Not in the payload: the first job start.
  startedAt: '2016-08-12T15:24:56.000Z',
  finishedAt: '2016-08-12T15:26:29.000Z',
  // oa.duration (63 s), not finished - created.
  durationMs: 63_000,
  jobs: [
    job(376, 'build-image', 'success', '2016-08-12T15:24:56.000Z', '2016-08-12T15:25:26.000Z', TEST_HOST),
    job(377, 'test-image', 'success', '2016-08-12T15:26:12.000Z', null, TEST_HOST),
    job(378, 'test-build', 'success', '2016-08-12T15:26:12.000Z', '2016-08-12T15:26:29.000Z', TEST_HOST),
    job(379, 'staging', 'queued', null, null, TEST_HOST),
    job(380, 'production', 'skipped', null, null, TEST_HOST),
  ],
  fromJob: false,
  eventTime: '2016-08-12T15:26:29.000Z',
}

const CRU = 'https://gitlab.com/CruAlbaniaDigital/hapitjeter'
const CRU_DS = 'https://gitlab.com/cru-albania-ds/hapitjeter'

const expected: Record<string, Expected> = {
  'job-created-docs-example': {
    deliveryId: '685e1cfb-7c39-5ab5-9c91-6488d2a0a807',
    event: 'Job Hook',
    update: {
      ...docsPipeline,
      // commit.id is the pipeline id in Job Hooks.
      externalId: '2366',
      // No project object: the path comes from repository.homepage.
      project: 'gitlab-org/gitlab-test',
      pipeline: '',
      branch: 'gitlab-script-trigger',
      pullRequest: null,
      number: null,
      status: 'queued',
      commit: { sha: '2293ada6b400935a1378653304eaf6221e0fdb8f', subject: 'test', author: 'User' },
      actor: 'user1',
      url: null,
      trigger: null,
      ...noTimes,
      jobs: [job(1977, 'test', 'queued', null, null, TEST_HOST)],
      fromJob: true,
      eventTime: '2021-02-23T02:41:37.886Z',
    },
  },
  'job-success-gitlabcom': {
    deliveryId: '8b7a1ebd-dc0e-5a20-88be-1828fcc28071',
    event: 'Job Hook',
    update: {
      ...docsPipeline,
      externalId: '743121198',
      // project_name is the display name "John Smith / release-tools-fake"; the path matches
      // what the Pipeline Hook of the same project says.
      project: 'jsmithy2/release-tools-fake',
      pipeline: 'Build pipeline',
      branch: 'main',
      pullRequest: null,
      number: null,
      // A finished job moves its pipeline to running, never to done.
      status: 'running',
      commit: {
        sha: '95d49d1efbd941908580e79d65e4b5ecaf4a8305',
        subject: 'Remove test jobs and add back other jobs',
        author: 'John Smith',
      },
      actor: 'jsmithy2',
      url: null,
      trigger: null,
      ...noTimes,
      jobs: [
        job(
          3580121225,
          'auto_deploy:start',
          'success',
          '2023-01-10T13:50:05.000Z',
          '2023-01-10T13:50:54.000Z',
          'https://gitlab.com/jsmithy2/release-tools-fake'
        ),
      ],
      fromJob: true,
      eventTime: '2023-01-10T13:50:54.000Z',
    },
  },
  'pipeline-failed-gitlabcom-2017': {
    deliveryId: 'd7c105d1-2fbf-5c67-afb4-8b1fd1deb090',
    event: 'Pipeline Hook',
    update: {
      ...docsPipeline,
      externalId: '8649766',
      project: 'CruAlbaniaDigital/hapitjeter',
      pullRequest: null,
      number: null,
      status: 'failure',
      commit: {
        sha: 'c8fd8cbab1277c9b5aa484685215c7e4b5ec27da',
        subject: 'fix issue with ssh key permissions',
        author: 'Gordon Burgett',
      },
      actor: 'gordon.burgett',
      url: `${CRU}/-/pipelines/8649766`,
      trigger: null,
      queuedAt: '2017-05-30T20:56:49.000Z',
      startedAt: '2017-05-30T20:56:53.000Z',
      finishedAt: '2017-06-05T14:34:00.000Z',
      durationMs: 209_000,
      // deploy_staging was retried twice; only its latest attempt is kept.
      jobs: [
        job(17523905, 'lint', 'success', '2017-05-30T20:56:53.000Z', '2017-05-30T20:57:30.000Z', CRU),
        job(17523909, 'test_integration', 'success', '2017-05-30T20:57:33.000Z', '2017-05-30T20:59:29.000Z', CRU),
        job(17911523, 'deploy_staging', 'failure', '2017-06-05T14:33:03.000Z', '2017-06-05T14:34:00.000Z', CRU),
      ],
      eventTime: '2017-06-05T14:34:00.000Z',
    },
  },
  'pipeline-success-docs-example-v16': {
    deliveryId: '199c22c4-26dc-5f2e-8dac-fdc0aa9a80a2',
    event: 'Pipeline Hook',
    update: {
      ...docsPipeline,
      pipeline: 'Pipeline for branch: master',
      number: 3,
      actor: 'root',
      url: 'http://example.com/gitlab-org/gitlab-test/-/pipelines/31',
      jobs: [
        docsPipeline.jobs[0]!,
        job(377, 'test-image', 'success', '2016-08-12T15:26:12.000Z', '2016-08-12T15:26:29.000Z', TEST_HOST),
        // The docs example has a failed job in a successful pipeline; kept as sent.
        job(378, 'test-build', 'failure', '2016-08-12T15:26:12.000Z', '2016-08-12T15:26:29.000Z', TEST_HOST),
        docsPipeline.jobs[3]!,
        docsPipeline.jobs[4]!,
      ],
    },
  },
  'pipeline-success-docs-example': {
    deliveryId: '9756c4ac-ca5c-5f94-8e67-2bebbd8a3111',
    event: 'Pipeline Hook',
    update: docsPipeline,
  },
  'pipeline-success-gitlabcom-2017': {
    deliveryId: '9bea9ba7-3a02-5f6a-82b7-0417a0b2bcc4',
    event: 'Pipeline Hook',
    update: {
      ...docsPipeline,
      externalId: '7814643',
      project: 'cru-albania-ds/hapitjeter',
      pullRequest: null,
      number: null,
      commit: {
        sha: 'b679c0a4b2d7ea2d185e9ad8c953bb57654b6565',
        subject: 'remove deploy task to push with FTP which doesnt work',
        author: 'Gordon Burgett',
      },
      actor: 'gordon.burgett',
      url: `${CRU_DS}/-/pipelines/7814643`,
      trigger: null,
      queuedAt: '2017-04-23T20:32:11.000Z',
      startedAt: '2017-04-23T20:32:12.000Z',
      finishedAt: '2017-04-23T20:36:17.000Z',
      durationMs: 242_000,
      jobs: [
        job(14863107, 'lint', 'success', '2017-04-23T20:32:12.000Z', '2017-04-23T20:32:58.000Z', CRU_DS),
        job(14863108, 'test_integration', 'success', '2017-04-23T20:33:00.000Z', '2017-04-23T20:36:17.000Z', CRU_DS),
      ],
      eventTime: '2017-04-23T20:36:17.000Z',
    },
  },
}

describe('gitlab verify', () => {
  gl.verifyCases({
    sample: SAMPLE,
    tamperable: false,
    noun: 'token',
    reasons: {
      wrongSecret: 'X-Gitlab-Token does not match',
      missing: 'missing X-Gitlab-Token or webhook-signature header',
    },
  })

  it('accepts every fixture signed with the signing token', () => {
    for (const name of fixtureNames('gitlab')) {
      expect(gitlab.verify(signedDelivery(name), signingSecrets), name).toEqual({ ok: true })
    }
  })

  it('accepts a signature among several space-separated ones', () => {
    const d = signedDelivery(SAMPLE)
    const sig = d.headers.get('webhook-signature')!
    d.headers.set('webhook-signature', `v1,${randomBytes(32).toString('base64')} ${sig}`)
    expect(gitlab.verify(d, signingSecrets)).toEqual({ ok: true })
  })

  it('rejects a signature made with another signing token', () => {
    const other = `whsec_${randomBytes(32).toString('base64')}`
    const d = signedDelivery(SAMPLE, other)
    expect(gitlab.verify(d, signingSecrets)).toEqual({
      ok: false,
      reason: 'webhook-signature does not match the body',
    })
  })

  it('rejects a signed body changed by one byte', () => {
    const d = signedDelivery(SAMPLE)
    expect(gitlab.verify({ ...d, raw: flipByte(d.raw, 20) }, signingSecrets)).toEqual({
      ok: false,
      reason: 'webhook-signature does not match the body',
    })
  })

  it('rejects a signature whose timestamp is more than 5 minutes old or ahead', () => {
    const stale = signedDelivery(SAMPLE, WHSEC, NOW - 6 * 60_000)
    expect(gitlab.verify(stale, signingSecrets)).toEqual({
      ok: false,
      reason: 'webhook-timestamp is more than 5 minutes from the server clock',
    })
    const ahead = signedDelivery(SAMPLE, WHSEC, NOW + 6 * 60_000)
    expect(gitlab.verify(ahead, signingSecrets).ok).toBe(false)
    const recent = signedDelivery(SAMPLE, WHSEC, NOW - 4 * 60_000)
    expect(gitlab.verify(recent, signingSecrets).ok).toBe(true)
  })

  it('uses the decoded key, not the whsec_ string, as the HMAC key', () => {
    const f = loadFixture('gitlab', SAMPLE)
    const keyedByText = `whsec_${Buffer.from(WHSEC).toString('base64')}`
    const asString = signStandard(f.raw, keyedByText, 'id', NOW)
    const d = gl.withAuth(f, asString)
    expect(gitlab.verify(d, signingSecrets).ok).toBe(false)
  })

  it('refuses a signing token that decodes to an empty key', () => {
    const d = signedDelivery(SAMPLE, 'whsec_')
    expect(gitlab.verify(d, { GITLAB_WEBHOOK_SIGNING_TOKEN: ['whsec_'] })).toEqual({
      ok: false,
      reason: 'GITLAB_WEBHOOK_SIGNING_TOKEN is not a whsec_<base64 key> token',
    })
  })

  it('accepts either mechanism when both are configured and sent', () => {
    const both = { ...gl.secrets, ...signingSecrets }
    const d = signedDelivery(SAMPLE)
    d.headers.set('x-gitlab-token', 'stale-token')
    expect(gitlab.verify(d, both)).toEqual({ ok: true })
    const t = gl.signed(SAMPLE)
    t.headers.set('webhook-id', 'x')
    t.headers.set('webhook-timestamp', String(NOW / 1000))
    t.headers.set('webhook-signature', 'v1,bm9wZQ==')
    expect(gitlab.verify(t, both)).toEqual({ ok: true })
  })

  it('says which variable is missing when GitLab sends the other mechanism', () => {
    expect(gitlab.verify(gl.signed(SAMPLE), signingSecrets)).toEqual({
      ok: false,
      reason: 'GitLab sent a token but GITLAB_WEBHOOK_TOKEN is not set',
    })
  })

  it('accepts both the old and the new signing token during a rotation', () => {
    const oldKey = `whsec_${randomBytes(32).toString('base64')}`
    const keys = { GITLAB_WEBHOOK_SIGNING_TOKEN: [oldKey, WHSEC] }
    expect(gitlab.verify(signedDelivery(SAMPLE, oldKey), keys)).toEqual({ ok: true })
    expect(gitlab.verify(signedDelivery(SAMPLE, WHSEC), keys)).toEqual({ ok: true })
  })
})

describe('gitlab normalize', () => {
  gl.fixtureCases({ expected, how: 'sent with the secret token' })

  it('reports a tag pipeline with the tag as both tag and branch', () => {
    const f = loadFixture('gitlab', SAMPLE)
    Object.assign(f.body.object_attributes, { ref: 'v1.2.0', tag: true })
    expect(gl.build(f.body, f).update).toMatchObject({ tag: 'v1.2.0', branch: 'v1.2.0' })
  })

  it('maps the GitLab states per the doc table', () => {
    const f = loadFixture('gitlab', SAMPLE)
    const cases = {
      created: 'queued',
      waiting_for_resource: 'queued',
      preparing: 'queued',
      pending: 'queued',
      scheduled: 'queued',
      manual: 'queued',
      running: 'running',
      canceling: 'running',
      failed: 'failure',
      canceled: 'canceled',
      skipped: 'skipped',
    }
    const withStatus = (state: string) => withField(f.body, 'object_attributes.status', state)
    const updates = gl.expectStatuses(cases, withStatus, f)
    for (const [state, update] of Object.entries(updates)) {
      const terminal = ['failure', 'canceled', 'skipped'].includes(update.status)
      expect(update.finishedAt !== null, `${state}: finishedAt`).toBe(terminal)
    }
  })

  it('estimates the start from the queue time when no job has started', () => {
    const f = loadFixture('gitlab', SAMPLE)
    f.body.object_attributes.status = 'running'
    f.body.builds = []
    expect(gl.build(f.body, f).update).toMatchObject({
      startedAt: '2016-08-12T15:23:40.000Z',
      finishedAt: null,
      durationMs: null,
    })
  })

  it('reads the ISO twins of job times in newer Job Hooks', () => {
    const f = loadFixture('gitlab', 'job-success-gitlabcom')
    f.body.build_finished_at = 'garbage'
    f.body.build_finished_at_iso = '2023-01-10T13:50:54.250Z'
    const { update } = gl.build(f.body, f)
    expect(update.jobs[0]?.finishedAt).toBe('2023-01-10T13:50:54.250Z')
  })

  it('falls back from Idempotency-Key to webhook-id to the event UUID plus the state', () => {
    const f = loadFixture('gitlab', SAMPLE)
    const { 'Idempotency-Key': _, ...headers } = f.headers
    const idOf = (h: Record<string, string>) => gl.build(f.body, { ...f, headers: h }).deliveryId
    expect(idOf({ ...headers, 'webhook-id': 'msg_1' })).toBe('msg_1')
    expect(idOf(headers)).toBe(
      '9e60337d-7025-5d8a-bace-40d016c10ade:gitlab:pipeline:31:success:2016-08-12T15:26:29.000Z'
    )
    const { 'X-Gitlab-Event-UUID': __, ...bare } = headers
    expect(idOf(bare)).toBe('gitlab:pipeline:31:success:2016-08-12T15:26:29.000Z')
  })

  it('ignores events that are not pipelines or jobs', () => {
    const push = { raw: '{}', headers: { 'X-Gitlab-Event': 'Push Hook' } }
    expect(gl.normalize({ object_kind: 'push' }, push)).toEqual({
      kind: 'ignored',
      event: 'Push Hook',
      reason: 'Push Hook events are not pipeline or job events',
    })
  })

  gl.requiredCases(SAMPLE, {
    'rejects a Pipeline Hook without object_attributes': ['object_attributes'],
    'rejects a Pipeline Hook without a project': ['project', 'missing project.path_with_namespace'],
  })
  gl.requiredCases('job-success-gitlabcom', {
    'rejects a Job Hook without a pipeline id': [['pipeline_id', 'commit']],
  })

  it('treats wrong-typed fields as missing instead of throwing', () => {
    const f = loadFixture('gitlab', SAMPLE)
    Object.assign(f.body.object_attributes, { iid: '3', ref: ['x'], duration: 'long', url: 7 })
    f.body.builds = [null, 'x', { id: 'y' }, { id: 1, name: 'n'.repeat(400), status: 'success' }]
    f.body.commit = { message: 42 }
    const { update } = gl.build(f.body, f)
    expect(update).toMatchObject({ number: null, branch: '', commit: { subject: null } })
    expect(update.jobs).toHaveLength(1)
    expect(update.jobs[0]!.name).toHaveLength(300)
  })
})
