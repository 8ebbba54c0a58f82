import { describe, expect, it } from 'vitest'
import { buildUpdateSchema, type BuildUpdate } from '../model.ts'
import { BadPayload, type Delivery } from '../provider.ts'
import { fixtureNames, loadFixture } from '../../test/fixtures.ts'
import { sign } from '../../test/sign/bitbucket.ts'
import { bitbucket } from './bitbucket.ts'

const SECRET = 's3cret-bitbucket'
const secrets = { BITBUCKET_WEBHOOK_SECRET: [SECRET] }
const SHA = '9fec847784abb10b2fa567ee63b85bd238955d0e'
const COMMIT_HREF = `http://api.bitbucket.org/2.0/repositories/tk/test/commit/${SHA}`

function delivery(headers: Record<string, string>, raw: Buffer): Delivery {
  return {
    headers: new Headers(headers),
    raw,
    url: new URL('http://x/hooks/bitbucket'),
    receivedAt: Date.now(),
  }
}

function signed(name: string, secret = SECRET): Delivery {
  const f = loadFixture('bitbucket', name)
  return delivery({ ...f.headers, ...sign(f.raw, secret) }, f.raw)
}

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

const expected: Record<string, { event: string; deliveryId: string; update: BuildUpdate }> = {
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
  it('accepts every fixture signed with the configured secret', () => {
    for (const name of fixtureNames('bitbucket')) {
      expect(bitbucket.verify(signed(name), secrets), name).toEqual({ ok: true })
    }
  })

  it('rejects a signature made with another secret', () => {
    const d = signed('repo-commit_status_updated-successful', 'wrong')
    expect(bitbucket.verify(d, secrets)).toEqual({
      ok: false,
      reason: 'X-Hub-Signature does not match the body',
    })
  })

  it('rejects a body changed by one byte after signing', () => {
    const d = signed('repo-commit_status_updated-successful')
    const raw = Buffer.from(d.raw)
    raw[5] = raw[5]! ^ 1
    expect(bitbucket.verify({ ...d, raw }, secrets).ok).toBe(false)
  })

  it('rejects a delivery without X-Hub-Signature', () => {
    const f = loadFixture('bitbucket', 'repo-commit_status_updated-successful')
    expect(bitbucket.verify(delivery(f.headers, f.raw), secrets)).toEqual({
      ok: false,
      reason: 'missing X-Hub-Signature header',
    })
  })

  it('rejects a GitHub-style SHA-1 signature under the same header', () => {
    const d = signed('repo-commit_status_updated-successful')
    d.headers.set('x-hub-signature', d.headers.get('x-hub-signature')!.replace('sha256=', 'sha1='))
    expect(bitbucket.verify(d, secrets).ok).toBe(false)
  })

  it('names the variable to set when no secret is configured', () => {
    expect(bitbucket.verify(signed('repo-commit_status_updated-successful'), {})).toEqual({
      ok: false,
      reason: 'no secret configured: set BITBUCKET_WEBHOOK_SECRET',
    })
  })

  it('accepts both the old and the new secret during a rotation', () => {
    const rotation = { BITBUCKET_WEBHOOK_SECRET: ['old-secret', 'new-secret'] }
    const name = 'repo-commit_status_created-inprogress'
    expect(bitbucket.verify(signed(name, 'old-secret'), rotation).ok).toBe(true)
    expect(bitbucket.verify(signed(name, 'new-secret'), rotation).ok).toBe(true)
    expect(bitbucket.verify(signed(name, 'other'), rotation).ok).toBe(false)
  })
})

describe('bitbucket normalize', () => {
  it('has an expectation for every fixture', () => {
    expect(Object.keys(expected).sort()).toEqual(fixtureNames('bitbucket'))
  })

  for (const name of fixtureNames('bitbucket')) {
    it(`normalizes ${name}`, () => {
      const d = signed(name)
      expect(bitbucket.verify(d, secrets).ok).toBe(true)
      const r = bitbucket.normalize(d, JSON.parse(d.raw.toString('utf8')))
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

  it('maps FAILED and STOPPED per the doc', () => {
    const f = loadFixture('bitbucket', 'repo-commit_status_updated-successful')
    for (const [state, status] of [
      ['FAILED', 'failure'],
      ['STOPPED', 'canceled'],
    ]) {
      f.body.commit_status.state = state
      const r = bitbucket.normalize(signed(f.name), f.body)
      expect(r.kind === 'build' && r.update.status, state).toBe(status)
    }
  })

  it('treats a new commit as a new build of the same pipeline', () => {
    const f = loadFixture('bitbucket', 'repo-commit_status_created-inprogress')
    f.body.commit_status.links.commit.href = COMMIT_HREF.replace(SHA, 'a'.repeat(40))
    f.body.commit_status.refname = 'feature/x'
    const r = bitbucket.normalize(signed(f.name), f.body)
    expect(r.kind === 'build' && r.update).toMatchObject({
      externalId: `mybuildtool@${'a'.repeat(40)}`,
      pipeline: 'Unit Tests (Python)',
      branch: 'feature/x',
    })
  })

  it('ignores other event keys', () => {
    const d = delivery({ 'X-Event-Key': 'repo:push' }, Buffer.from('{}'))
    expect(bitbucket.normalize(d, {})).toEqual({
      kind: 'ignored',
      event: 'repo:push',
      reason: 'repo:push events are not commit statuses',
    })
  })

  it('ignores an unknown state instead of guessing', () => {
    const f = loadFixture('bitbucket', 'repo-commit_status_created-inprogress')
    f.body.commit_status.state = 'toString'
    expect(bitbucket.normalize(signed(f.name), f.body)).toMatchObject({
      kind: 'ignored',
      reason: 'unknown commit status state: toString',
    })
  })

  it('rejects a commit status event without commit_status', () => {
    const f = loadFixture('bitbucket', 'repo-commit_status_updated-successful')
    const { commit_status: _, ...body } = f.body
    expect(() => bitbucket.normalize(signed(f.name), body)).toThrow(BadPayload)
    expect(() => bitbucket.normalize(signed(f.name), body)).toThrow('missing commit_status')
  })

  it('rejects a commit status event without a repository', () => {
    const f = loadFixture('bitbucket', 'repo-commit_status_updated-successful')
    const { repository: _, ...body } = f.body
    expect(() => bitbucket.normalize(signed(f.name), body)).toThrow('missing repository.full_name')
  })

  it('treats wrong-typed fields as missing instead of throwing', () => {
    const f = loadFixture('bitbucket', 'repo-commit_status_updated-successful')
    Object.assign(f.body.commit_status, { name: 5, url: ['x'], links: 'none', updated_on: {} })
    f.body.actor = 'someone'
    const r = bitbucket.normalize(signed(f.name), f.body)
    if (r.kind !== 'build') throw new Error('expected a build')
    expect(r.update).toMatchObject({
      externalId: 'mybuildtool@',
      pipeline: 'mybuildtool',
      url: null,
      actor: null,
      commit: { sha: null },
      finishedAt: null,
    })
    expect(() => buildUpdateSchema.parse(r.update)).not.toThrow()
  })
})
