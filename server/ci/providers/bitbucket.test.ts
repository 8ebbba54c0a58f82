import { describe, expect, it } from 'vitest'
import type { BuildUpdate } from '../model.ts'
import { loadFixture } from '../../test/fixtures.ts'
import { delivery, providerCases, withField, type Expected } from '../../test/provider-cases.ts'
import { sign } from '../../test/sign/bitbucket.ts'
import { bitbucket } from './bitbucket.ts'

const bb = providerCases(bitbucket, sign, { BITBUCKET_WEBHOOK_SECRET: 's3cret-bitbucket' })
const SHA = '9fec847784abb10b2fa567ee63b85bd238955d0e'
const COMMIT_HREF = `http://api.bitbucket.org/2.0/repositories/tk/test/commit/${SHA}`

const inProgress: BuildUpdate = {
  provider: 'bitbucket',
  // No build id in a commit status: the tool's key on this commit.
  externalId: `mybuildtool@${SHA}`,
  attempt: 1,
  project: 'team_name/repo_name',
  pipeline: 'Unit Tests (Python)',
  // refname is optional and absent from the docs sample.
  branch: '',
  tag: null,
  pullRequest: null,
  number: null,
  status: 'running',
  commit: { sha: SHA, subject: null, author: null },
  actor: 'Emma',
  url: 'https://my-build-tool.com/builds/MY-PROJECT/BUILD-777',
  trigger: null,
  queuedAt: null,
  startedAt: '2015-11-19T20:37:35.547Z',
  finishedAt: null,
  durationMs: null,
  jobs: [],
  fromJob: false,
  eventTime: '2015-11-19T20:37:35.547Z',
}

const expected: Record<string, Expected> = {
  'repo-commit_status_created-inprogress': {
    event: 'repo:commit_status_created',
    deliveryId: `bitbucket:mybuildtool:${COMMIT_HREF}:INPROGRESS:2015-11-19T20:37:35.547563+00:00`,
    update: inProgress,
  },
  'repo-commit_status_updated-successful': {
    event: 'repo:commit_status_updated',
    deliveryId: `bitbucket:mybuildtool:${COMMIT_HREF}:SUCCESSFUL:2015-11-20T08:01:16.433108+00:00`,
    update: {
      ...inProgress,
      status: 'success',
      // The docs sample's url changes between the two states; the key and sha do not.
      url: 'https://my-build-tool.com/builds/MY-PROJECT/BUILD-792',
      finishedAt: '2015-11-20T08:01:16.433Z',
      durationMs: 41_020_886,
      eventTime: '2015-11-20T08:01:16.433Z',
    },
  },
}

describe('bitbucket verify', () => {
  bb.verifyCases({
    sample: 'repo-commit_status_updated-successful',
    tamperable: true,
    reasons: {
      wrongSecret: 'X-Hub-Signature does not match the body',
      missing: 'missing X-Hub-Signature header',
    },
  })

  it('rejects a GitHub-style SHA-1 signature under the same header', () => {
    const d = bb.signed('repo-commit_status_updated-successful')
    d.headers.set('x-hub-signature', d.headers.get('x-hub-signature')!.replace('sha256=', 'sha1='))
    expect(bitbucket.verify(d, bb.secrets)).toEqual({
      ok: false,
      reason: 'X-Hub-Signature is not sha256=<hex>',
    })
  })
})

describe('bitbucket normalize', () => {
  bb.fixtureCases({ expected })

  it('maps FAILED and STOPPED per the doc', () => {
    const f = loadFixture('bitbucket', 'repo-commit_status_updated-successful')
    const withState = (state: string) => withField(f.body, 'commit_status.state', state)
    bb.expectStatuses({ FAILED: 'failure', STOPPED: 'canceled' }, withState, f)
  })

  it('treats a new commit as a new build of the same pipeline', () => {
    const f = loadFixture('bitbucket', 'repo-commit_status_created-inprogress')
    f.body.commit_status.links.commit.href = COMMIT_HREF.replace(SHA, 'a'.repeat(40))
    f.body.commit_status.refname = 'feature/x'
    expect(bb.build(f.body, f).update).toMatchObject({
      externalId: `mybuildtool@${'a'.repeat(40)}`,
      pipeline: 'Unit Tests (Python)',
      branch: 'feature/x',
    })
  })

  it('ignores other event keys', () => {
    const d = delivery({ raw: '{}', headers: { 'X-Event-Key': 'repo:push' } })
    expect(bitbucket.normalize(d, {})).toEqual({
      kind: 'ignored',
      event: 'repo:push',
      reason: 'repo:push events are not commit statuses',
    })
  })

  it('ignores an unknown state instead of guessing', () => {
    const f = loadFixture('bitbucket', 'repo-commit_status_created-inprogress')
    const body = withField(f.body, 'commit_status.state', 'toString')
    bb.expectIgnored(body, 'unknown commit status state: toString', f)
  })

  bb.requiredCases('repo-commit_status_updated-successful', {
    'rejects a commit status event without commit_status': ['commit_status'],
    'rejects a commit status event without a repository': ['repository', 'missing repository.full_name'],
  })

  it('treats wrong-typed fields as missing instead of throwing', () => {
    const f = loadFixture('bitbucket', 'repo-commit_status_updated-successful')
    Object.assign(f.body.commit_status, { name: 5, url: ['x'], links: 'none' })
    f.body.actor = 'someone'
    expect(bb.build(f.body, f).update).toMatchObject({
      externalId: 'mybuildtool@',
      pipeline: 'mybuildtool',
      url: null,
      actor: null,
      commit: { sha: null },
    })
  })
})
