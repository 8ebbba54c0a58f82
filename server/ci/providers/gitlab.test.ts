import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { buildUpdateSchema, type BuildUpdate, type Job } from '../model.ts'
import { BadPayload, type Delivery } from '../provider.ts'
import { fixtureNames, loadFixture } from '../../test/fixtures.ts'
import { sign, signStandard } from '../../test/sign/gitlab.ts'
import { gitlab } from './gitlab.ts'

const TOKEN = 's3cret-gitlab-token'
const WHSEC = `whsec_${randomBytes(32).toString('base64')}`
const secrets = { GITLAB_WEBHOOK_TOKEN: [TOKEN] }
const signingSecrets = { GITLAB_WEBHOOK_SIGNING_TOKEN: [WHSEC] }
const NOW = Date.parse('2026-03-01T12:00:00Z')

function delivery(headers: Record<string, string>, raw: Buffer, receivedAt = NOW): Delivery {
  return { headers: new Headers(headers), raw, url: new URL('http://x/hooks/gitlab'), receivedAt }
}

function tokenDelivery(name: string, token = TOKEN): Delivery {
  const f = loadFixture('gitlab', name)
  return delivery({ ...f.headers, ...sign(f.raw, token) }, f.raw)
}

function signedDelivery(name: string, whsec = WHSEC, signedAt = NOW): Delivery {
  const f = loadFixture('gitlab', name)
  const id = f.headers['Idempotency-Key']!
  return delivery({ ...f.headers, ...signStandard(f.raw, whsec, id, signedAt) }, f.raw)
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
    job(
      376,
      'build-image',
      'success',
      '2016-08-12T15:24:56.000Z',
      '2016-08-12T15:25:26.000Z',
      TEST_HOST
    ),
    job(377, 'test-image', 'success', '2016-08-12T15:26:12.000Z', null, TEST_HOST),
    job(
      378,
      'test-build',
      'success',
      '2016-08-12T15:26:12.000Z',
      '2016-08-12T15:26:29.000Z',
      TEST_HOST
    ),
    job(379, 'staging', 'queued', null, null, TEST_HOST),
    job(380, 'production', 'skipped', null, null, TEST_HOST),
  ],
  fromJob: false,
  eventTime: '2016-08-12T15:26:29.000Z',
}

const CRU = 'https://gitlab.com/CruAlbaniaDigital/hapitjeter'
const CRU_DS = 'https://gitlab.com/cru-albania-ds/hapitjeter'

const expected: Record<string, { deliveryId: string; event: string; update: BuildUpdate }> = {
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
      queuedAt: null,
      startedAt: null,
      finishedAt: null,
      durationMs: null,
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
      queuedAt: null,
      startedAt: null,
      finishedAt: null,
      durationMs: null,
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
        job(
          17523905,
          'lint',
          'success',
          '2017-05-30T20:56:53.000Z',
          '2017-05-30T20:57:30.000Z',
          CRU
        ),
        job(
          17523909,
          'test_integration',
          'success',
          '2017-05-30T20:57:33.000Z',
          '2017-05-30T20:59:29.000Z',
          CRU
        ),
        job(
          17911523,
          'deploy_staging',
          'failure',
          '2017-06-05T14:33:03.000Z',
          '2017-06-05T14:34:00.000Z',
          CRU
        ),
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
        job(
          377,
          'test-image',
          'success',
          '2016-08-12T15:26:12.000Z',
          '2016-08-12T15:26:29.000Z',
          TEST_HOST
        ),
        // The docs example has a failed job in a successful pipeline; kept as sent.
        job(
          378,
          'test-build',
          'failure',
          '2016-08-12T15:26:12.000Z',
          '2016-08-12T15:26:29.000Z',
          TEST_HOST
        ),
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
        job(
          14863107,
          'lint',
          'success',
          '2017-04-23T20:32:12.000Z',
          '2017-04-23T20:32:58.000Z',
          CRU_DS
        ),
        job(
          14863108,
          'test_integration',
          'success',
          '2017-04-23T20:33:00.000Z',
          '2017-04-23T20:36:17.000Z',
          CRU_DS
        ),
      ],
      eventTime: '2017-04-23T20:36:17.000Z',
    },
  },
}

describe('gitlab verify', () => {
  it('accepts every fixture sent with the secret token', () => {
    for (const name of fixtureNames('gitlab')) {
      expect(gitlab.verify(tokenDelivery(name), secrets), name).toEqual({ ok: true })
    }
  })

  it('accepts every fixture signed with the signing token', () => {
    for (const name of fixtureNames('gitlab')) {
      expect(gitlab.verify(signedDelivery(name), signingSecrets), name).toEqual({ ok: true })
    }
  })

  it('accepts a signature among several space-separated ones', () => {
    const d = signedDelivery('pipeline-success-docs-example')
    const sig = d.headers.get('webhook-signature')!
    d.headers.set('webhook-signature', `v1,${randomBytes(32).toString('base64')} ${sig}`)
    expect(gitlab.verify(d, signingSecrets)).toEqual({ ok: true })
  })

  it('rejects a wrong secret token', () => {
    const d = tokenDelivery('pipeline-success-docs-example', 'wrong')
    expect(gitlab.verify(d, secrets)).toEqual({
      ok: false,
      reason: 'X-Gitlab-Token does not match',
    })
  })

  it('rejects a signature made with another signing token', () => {
    const other = `whsec_${randomBytes(32).toString('base64')}`
    const d = signedDelivery('pipeline-success-docs-example', other)
    expect(gitlab.verify(d, signingSecrets)).toEqual({
      ok: false,
      reason: 'webhook-signature does not match the body',
    })
  })

  it('rejects a signed body changed by one byte', () => {
    const d = signedDelivery('pipeline-success-docs-example')
    const raw = Buffer.from(d.raw)
    raw[20] = raw[20]! ^ 1
    expect(gitlab.verify({ ...d, raw }, signingSecrets).ok).toBe(false)
  })

  it('rejects a signature whose timestamp is more than 5 minutes old or ahead', () => {
    const stale = signedDelivery('pipeline-success-docs-example', WHSEC, NOW - 6 * 60_000)
    expect(gitlab.verify(stale, signingSecrets)).toEqual({
      ok: false,
      reason: 'webhook-timestamp is more than 5 minutes from the server clock',
    })
    const ahead = signedDelivery('pipeline-success-docs-example', WHSEC, NOW + 6 * 60_000)
    expect(gitlab.verify(ahead, signingSecrets).ok).toBe(false)
    const recent = signedDelivery('pipeline-success-docs-example', WHSEC, NOW - 4 * 60_000)
    expect(gitlab.verify(recent, signingSecrets).ok).toBe(true)
  })

  it('uses the decoded key, not the whsec_ string, as the HMAC key', () => {
    const f = loadFixture('gitlab', 'pipeline-success-docs-example')
    const keyedByText = `whsec_${Buffer.from(WHSEC).toString('base64')}`
    const asString = signStandard(f.raw, keyedByText, 'id', NOW)
    const d = delivery({ ...f.headers, ...asString }, f.raw)
    expect(gitlab.verify(d, signingSecrets).ok).toBe(false)
  })

  it('refuses a signing token that decodes to an empty key', () => {
    const d = signedDelivery('pipeline-success-docs-example', 'whsec_')
    expect(gitlab.verify(d, { GITLAB_WEBHOOK_SIGNING_TOKEN: ['whsec_'] })).toEqual({
      ok: false,
      reason: 'GITLAB_WEBHOOK_SIGNING_TOKEN is not a whsec_<base64 key> token',
    })
  })

  it('rejects a delivery with neither a token nor a signature', () => {
    const f = loadFixture('gitlab', 'pipeline-success-docs-example')
    expect(gitlab.verify(delivery(f.headers, f.raw), secrets)).toEqual({
      ok: false,
      reason: 'missing X-Gitlab-Token or webhook-signature header',
    })
  })

  it('accepts either mechanism when both are configured and sent', () => {
    const both = { ...secrets, ...signingSecrets }
    const d = signedDelivery('pipeline-success-docs-example')
    d.headers.set('x-gitlab-token', 'stale-token')
    expect(gitlab.verify(d, both)).toEqual({ ok: true })
    const t = tokenDelivery('pipeline-success-docs-example')
    t.headers.set('webhook-id', 'x')
    t.headers.set('webhook-timestamp', String(NOW / 1000))
    t.headers.set('webhook-signature', 'v1,bm9wZQ==')
    expect(gitlab.verify(t, both)).toEqual({ ok: true })
  })

  it('names both variables when no secret is configured', () => {
    expect(gitlab.verify(tokenDelivery('pipeline-success-docs-example'), {})).toEqual({
      ok: false,
      reason: 'no secret configured: set GITLAB_WEBHOOK_TOKEN or GITLAB_WEBHOOK_SIGNING_TOKEN',
    })
  })

  it('says which variable is missing when GitLab sends the other mechanism', () => {
    expect(gitlab.verify(tokenDelivery('pipeline-success-docs-example'), signingSecrets)).toEqual({
      ok: false,
      reason: 'GitLab sent a token but GITLAB_WEBHOOK_TOKEN is not set',
    })
  })

  it('accepts both the old and the new token during a rotation', () => {
    const rotation = { GITLAB_WEBHOOK_TOKEN: ['old-token', 'new-token'] }
    const name = 'pipeline-success-docs-example'
    expect(gitlab.verify(tokenDelivery(name, 'old-token'), rotation).ok).toBe(true)
    expect(gitlab.verify(tokenDelivery(name, 'new-token'), rotation).ok).toBe(true)
    expect(gitlab.verify(tokenDelivery(name, 'other'), rotation).ok).toBe(false)
    const oldKey = `whsec_${randomBytes(32).toString('base64')}`
    const keys = { GITLAB_WEBHOOK_SIGNING_TOKEN: [oldKey, WHSEC] }
    expect(gitlab.verify(signedDelivery(name, oldKey), keys).ok).toBe(true)
    expect(gitlab.verify(signedDelivery(name, WHSEC), keys).ok).toBe(true)
  })
})

describe('gitlab normalize', () => {
  it('has an expectation for every fixture', () => {
    expect(Object.keys(expected).sort()).toEqual(fixtureNames('gitlab'))
  })

  for (const name of fixtureNames('gitlab')) {
    it(`normalizes ${name}`, () => {
      const d = tokenDelivery(name)
      expect(gitlab.verify(d, secrets).ok).toBe(true)
      const r = gitlab.normalize(d, JSON.parse(d.raw.toString('utf8')))
      const want = expected[name]!
      if (r.kind !== 'build') throw new Error(`${name}: expected a build, got ${r.kind}`)
      expect(r.event, `${name}: event`).toBe(want.event)
      expect(r.deliveryId, `${name}: deliveryId`).toBe(want.deliveryId)
      expect(Object.keys(r.update).sort()).toEqual(Object.keys(want.update).sort())
      for (const [field, value] of Object.entries(want.update)) {
        expect(r.update[field as keyof BuildUpdate], `${name}: ${field}`).toEqual(value)
      }
      expect(() => buildUpdateSchema.parse(r.update)).not.toThrow()
    })
  }

  it('reports a tag pipeline with the tag as both tag and branch', () => {
    const f = loadFixture('gitlab', 'pipeline-success-docs-example')
    Object.assign(f.body.object_attributes, { ref: 'v1.2.0', tag: true })
    const r = gitlab.normalize(tokenDelivery(f.name), f.body)
    expect(r.kind === 'build' && r.update).toMatchObject({ tag: 'v1.2.0', branch: 'v1.2.0' })
  })

  it('maps the GitLab states per the doc table', () => {
    const f = loadFixture('gitlab', 'pipeline-success-docs-example')
    const cases: Record<string, string> = {
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
    for (const [state, status] of Object.entries(cases)) {
      f.body.object_attributes.status = state
      const r = gitlab.normalize(tokenDelivery(f.name), f.body)
      if (r.kind !== 'build') throw new Error(state)
      expect(r.update.status, state).toBe(status)
      const terminal = ['failure', 'canceled', 'skipped'].includes(status)
      expect(r.update.finishedAt !== null, `${state}: finishedAt`).toBe(terminal)
    }
  })

  it('estimates the start from the queue time when no job has started', () => {
    const f = loadFixture('gitlab', 'pipeline-success-docs-example')
    f.body.object_attributes.status = 'running'
    f.body.builds = []
    const r = gitlab.normalize(tokenDelivery(f.name), f.body)
    expect(r.kind === 'build' && r.update).toMatchObject({
      startedAt: '2016-08-12T15:23:40.000Z',
      finishedAt: null,
      durationMs: null,
    })
  })

  it('reads the ISO twins of job times in newer Job Hooks', () => {
    const f = loadFixture('gitlab', 'job-success-gitlabcom')
    f.body.build_finished_at = 'garbage'
    f.body.build_finished_at_iso = '2023-01-10T13:50:54.250Z'
    const r = gitlab.normalize(tokenDelivery(f.name), f.body)
    expect(r.kind === 'build' && r.update.jobs[0]?.finishedAt).toBe('2023-01-10T13:50:54.250Z')
  })

  it('falls back from Idempotency-Key to webhook-id to the event UUID plus the state', () => {
    const f = loadFixture('gitlab', 'pipeline-success-docs-example')
    const { 'Idempotency-Key': _, ...headers } = f.headers
    const withId = gitlab.normalize(delivery({ ...headers, 'webhook-id': 'msg_1' }, f.raw), f.body)
    expect(withId.kind === 'build' && withId.deliveryId).toBe('msg_1')
    const uuid = gitlab.normalize(delivery(headers, f.raw), f.body)
    expect(uuid.kind === 'build' && uuid.deliveryId).toBe(
      '9e60337d-7025-5d8a-bace-40d016c10ade:gitlab:pipeline:31:success:2016-08-12T15:26:29.000Z'
    )
    const { 'X-Gitlab-Event-UUID': __, ...bare } = headers
    const natural = gitlab.normalize(delivery(bare, f.raw), f.body)
    expect(natural.kind === 'build' && natural.deliveryId).toBe(
      'gitlab:pipeline:31:success:2016-08-12T15:26:29.000Z'
    )
  })

  it('ignores events that are not pipelines or jobs', () => {
    const d = delivery({ 'X-Gitlab-Event': 'Push Hook' }, Buffer.from('{}'))
    expect(gitlab.normalize(d, { object_kind: 'push' })).toEqual({
      kind: 'ignored',
      event: 'Push Hook',
      reason: 'Push Hook events are not pipeline or job events',
    })
  })

  it('rejects a Pipeline Hook without object_attributes', () => {
    const f = loadFixture('gitlab', 'pipeline-success-docs-example')
    const { object_attributes: _, ...body } = f.body
    expect(() => gitlab.normalize(tokenDelivery(f.name), body)).toThrow(BadPayload)
    expect(() => gitlab.normalize(tokenDelivery(f.name), body)).toThrow('missing object_attributes')
  })

  it('rejects a Pipeline Hook without a project', () => {
    const f = loadFixture('gitlab', 'pipeline-success-docs-example')
    const { project: _, ...body } = f.body
    expect(() => gitlab.normalize(tokenDelivery(f.name), body)).toThrow(
      'missing project.path_with_namespace'
    )
  })

  it('rejects a Job Hook without a pipeline id', () => {
    const f = loadFixture('gitlab', 'job-success-gitlabcom')
    const { pipeline_id: _, commit: __, ...body } = f.body
    expect(() => gitlab.normalize(tokenDelivery(f.name), body)).toThrow('missing pipeline_id')
  })

  it('treats wrong-typed fields as missing instead of throwing', () => {
    const f = loadFixture('gitlab', 'pipeline-success-docs-example')
    Object.assign(f.body.object_attributes, { iid: '3', ref: ['x'], duration: 'long', url: 7 })
    f.body.builds = [null, 'x', { id: 'y' }, { id: 1, name: 'n'.repeat(400), status: 'success' }]
    f.body.commit = { message: 42 }
    const r = gitlab.normalize(tokenDelivery(f.name), f.body)
    if (r.kind !== 'build') throw new Error('expected a build')
    expect(r.update).toMatchObject({ number: null, branch: '', commit: { subject: null } })
    expect(r.update.jobs).toHaveLength(1)
    expect(r.update.jobs[0]!.name).toHaveLength(300)
    expect(() => buildUpdateSchema.parse(r.update)).not.toThrow()
  })
})
