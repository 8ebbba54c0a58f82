// Before anything reads a date: a zone-less time read in local time is then five hours off.
// Node applies a TZ assigned at run time to every later Date, so this exercises the real thing.
const ORIGINAL_TZ = process.env.TZ
process.env.TZ = 'America/New_York'

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadFixture } from '../test/fixtures.ts'
import { startTestServer, type TestServer } from '../test/harness.ts'
import * as github from '../test/sign/github.ts'
import * as gitlab from '../test/sign/gitlab.ts'
import { readsFor } from './reads.ts'
import { httpDateMs, requiredTime, spanMs, toIso } from './time.ts'

const SECRET = 'tz-secret'
let s: TestServer
beforeAll(async () => {
  s = await startTestServer({ GITHUB_WEBHOOK_SECRET: SECRET, GITLAB_WEBHOOK_TOKEN: SECRET })
})
afterAll(async () => {
  await s.destroy()
  if (ORIGINAL_TZ === undefined) delete process.env.TZ
  else process.env.TZ = ORIGINAL_TZ
})

async function post(
  provider: string,
  body: unknown,
  headers: Record<string, string>,
  sign: (raw: Buffer) => Record<string, string>
) {
  const raw = Buffer.from(JSON.stringify(body))
  const res = await fetch(`${s.url}/hooks/${provider}`, {
    method: 'POST',
    headers: { ...headers, ...sign(raw) },
    body: new Uint8Array(raw),
  })
  return { status: res.status, body: await res.json() }
}

describe('provider times', () => {
  it('runs in a time zone that is not UTC (or the zone-less cases below prove nothing)', () => {
    expect(new Date(2024, 0, 1, 10).getTimezoneOffset()).toBe(300)
  })

  it('reads a zone-less ISO-8601 or GitLab time as UTC, whatever the server zone', () => {
    expect(toIso('2024-01-01T10:00:00')).toBe('2024-01-01T10:00:00.000Z')
    expect(toIso('2024-01-01 10:00:00')).toBe('2024-01-01T10:00:00.000Z')
    expect(toIso('2024-01-01T10:00:00.25')).toBe('2024-01-01T10:00:00.250Z')
    expect(toIso('2024-01-01T10:00:00+02:00')).toBe('2024-01-01T08:00:00.000Z')
    expect(toIso('2024-12-18 17:23:29.361740256 +0000 UTC m=+0.01')).toBe('2024-12-18T17:23:29.361Z')
  })

  it('stores a zone-less delivery time as UTC through the real hook', async () => {
    const f = loadFixture('github', 'workflow_run-completed-success')
    Object.assign(f.body.workflow_run, {
      id: 7_000_001,
      created_at: '2024-01-01T10:00:00',
      run_started_at: '2024-01-01T10:00:00',
      updated_at: '2024-01-01T10:05:00',
    })
    const r = await post('github', f.body, { ...f.headers, 'x-github-delivery': 'tz-1' }, (raw) =>
      github.sign(raw, SECRET)
    )
    expect(r.status).toBe(200)
    // Read from the store the API serves (the read API may ask for a credential).
    const builds = readsFor(s.engine)
    const b = await builds.build('github:7000001')
    expect(b).toMatchObject({
      queuedAt: '2024-01-01T10:00:00.000Z',
      startedAt: '2024-01-01T10:00:00.000Z',
      finishedAt: '2024-01-01T10:05:00.000Z',
      durationMs: 300_000,
    })

    const p = loadFixture('gitlab', 'pipeline-success-docs-example-v16')
    Object.assign(p.body.object_attributes, {
      id: 7_000_002,
      created_at: '2024-01-01 10:00:00',
      finished_at: '2024-01-01 10:05:00',
    })
    const g = await post('gitlab', p.body, { ...p.headers, 'idempotency-key': 'tz-2' }, () => gitlab.signToken(SECRET))
    expect(g.status).toBe(200)
    const gb = (await builds.build('gitlab:7000002'))!
    expect(gb.queuedAt).toBe('2024-01-01T10:00:00.000Z')
    expect(gb.finishedAt).toBe('2024-01-01T10:05:00.000Z')
  })

  it('turns values no Date can hold into null instead of throwing', () => {
    for (const v of [
      1e300,
      -1e300,
      8.64e15,
      8.64e15 + 1,
      Number.MAX_VALUE,
      '9'.repeat(16),
      '99999-01-01T00:00:00Z',
      '+275760-09-13T00:00:00Z',
      NaN,
      Infinity,
      -1,
    ]) {
      expect(() => toIso(v), String(v)).not.toThrow()
      expect(toIso(v), String(v)).toBeNull()
    }
  })

  it('refuses calendar overflow that Date.parse rolls over (Feb 30, 24:00, :60)', () => {
    for (const v of [
      '2024-02-30T00:00:00Z',
      '2024-01-01T24:00:00Z',
      '2024-01-01T10:00:60Z',
      '2024-13-01T00:00:00Z',
      '2024-01-01T10:00:00+24:00',
    ]) {
      expect(toIso(v), v).toBeNull()
    }
  })

  it('names the field of a guaranteed time that is present but no time', () => {
    expect(() => requiredTime({ at: 1e300 }, 'at', 'build.at')).toThrow(/build\.at is not a time/)
    expect(requiredTime({}, 'at', 'build.at')).toBeNull()
    // Go's zero time and 0 are how Drone and Gitea say "not yet".
    expect(requiredTime({ at: '0001-01-01T00:00:00Z' }, 'at', 'build.at')).toBeNull()
    expect(requiredTime({ at: 0 }, 'at', 'build.at')).toBeNull()
  })

  it('gives no span for a duration longer than any build, nor a negative one', () => {
    expect(spanMs('1990-01-01T00:00:00Z', '2200-01-01T00:00:00Z')).toBeNull()
    expect(spanMs('2024-01-01T00:00:05Z', '2024-01-01T00:00:00Z')).toBeNull()
    expect(spanMs('2024-01-01T00:00:00Z', '2024-01-01T00:00:05Z')).toBe(5000)
  })

  it('reads an HTTP Date header only in its GMT form', () => {
    expect(httpDateMs('Mon, 01 Jan 2024 10:00:00 GMT')).toBe(Date.UTC(2024, 0, 1, 10))
    expect(httpDateMs('Mon, 01 Jan 2024 10:00:00')).toBeNaN()
    expect(httpDateMs('2024-01-01T10:00:00')).toBeNaN()
  })
})
