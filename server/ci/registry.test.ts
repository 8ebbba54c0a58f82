/**
 * A provider is its file, its fixtures and one registry line: a throwaway provider given to the
 * registry list alone is served, verified and configured like the others, and the README's
 * provider table is checked against the registry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHmac } from 'node:crypto'
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig } from '../config.ts'
import { ROOT } from '../http/web-build.ts'
import { secretIn } from '../http/auth.ts'
import { createLogger } from '../log.ts'
import { type RunningServer, startServer } from '../server.ts'
import { adminAuth, TEST_ADMIN_TOKEN, tempDir } from '../test/harness.ts'
import { ciCapability } from './index.ts'
import { type BuildUpdate, emptyUpdate } from './model.ts'
import { BadPayload, defineProvider, type Provider, secretVar } from './provider.ts'
import { byName, PROVIDERS } from './registry.ts'
import { fail, hmacHex, OK, secretList } from './verify.ts'

const VAR = 'THROWAWAY_WEBHOOK_SECRET'

/** Everything a provider file holds, in a few lines: HMAC of the body in a header, a tiny body. */
const throwaway = defineProvider({
  name: 'throwaway',
  title: 'Throwaway CI',
  secrets: { [VAR]: secretVar('comma-separated secrets') },
  eventHeaders: ['x-throwaway-event'],
  verify(d, secrets) {
    const given = d.headers.get('x-throwaway-signature')
    if (!given) return fail('missing X-Throwaway-Signature header')
    const keys = secretList(secrets, VAR)
    return secretIn(given, keys, (k) => hmacHex(k, d.raw)) ? OK : fail('X-Throwaway-Signature does not match the body')
  },
  normalize(d, body) {
    const b = body as { id?: string; project?: string; ok?: boolean }
    if (!b.id || !b.project) throw new BadPayload('missing id or project')
    const update: BuildUpdate = { ...emptyUpdate('throwaway', b.id, b.project), status: b.ok ? 'success' : 'failure' }
    return { kind: 'build', event: d.headers.get('x-throwaway-event') ?? 'build', deliveryId: b.id, update }
  },
})

const WITH_THROWAWAY: readonly Provider[] = [...PROVIDERS, throwaway]

/** A server whose registry list has the throwaway provider, configured from `env` as main.ts does. */
async function serve(env: Record<string, string>): Promise<RunningServer & { dir: string }> {
  const dir = tempDir()
  const config = loadConfig(
    { PORT: '0', HOST: '127.0.0.1', ADMIN_TOKEN: TEST_ADMIN_TOKEN, DATA_DIR: dir, ...env },
    WITH_THROWAWAY
  )
  const server = await startServer(config, createLogger('silent'), [(ctx) => ciCapability(ctx, WITH_THROWAWAY)], {
    version: 'test',
  })
  return { ...server, dir }
}

const stop = async (s: RunningServer & { dir: string }) => {
  await s.close()
  rmSync(s.dir, { recursive: true, force: true })
}

function send(s: RunningServer, body: object, secret: string, event = 'build') {
  const raw = JSON.stringify(body)
  const signature = createHmac('sha256', secret).update(raw).digest('hex')
  return fetch(`${s.url}/hooks/throwaway`, {
    method: 'POST',
    headers: { 'x-throwaway-signature': signature, 'x-throwaway-event': event, 'content-type': 'application/json' },
    body: raw,
  })
}

describe('a throwaway provider added to the registry list alone', () => {
  let s: RunningServer & { dir: string }
  beforeAll(async () => {
    s = await serve({ [VAR]: 'old-secret, new-secret', GITHUB_WEBHOOK_SECRET: 'gh' })
  })
  afterAll(() => stop(s))

  it('reads its secret variable from the environment like the others', () => {
    const config = loadConfig({ [VAR]: 'old-secret, new-secret' }, WITH_THROWAWAY) as unknown as Record<string, unknown>
    expect(config[VAR]).toEqual(['old-secret', 'new-secret'])
    // Not a variable of the product's registry: ignored there, like any unknown variable.
    expect((loadConfig({ [VAR]: 'x' }) as unknown as Record<string, unknown>)[VAR]).toBeUndefined()
  })

  it('stores a correctly signed delivery, with either secret of its rotation list', async () => {
    for (const [id, secret] of [
      ['t-1', 'new-secret'],
      ['t-2', 'old-secret'],
    ]) {
      const res = await send(s, { id, project: 'acme/throwaway', ok: true }, secret!)
      expect(res.status).toBe(200)
      const body = await res.json()
      expect(body).toMatchObject({ stored: true, status: 'success' })
      const build = await (
        await fetch(`${s.url}/api/builds/${encodeURIComponent(body.build)}`, { headers: adminAuth })
      ).json()
      expect(build).toMatchObject({ id: `throwaway:${id}`, provider: 'throwaway', project: 'acme/throwaway' })
    }
  })

  it('answers a wrongly signed delivery with 401, logged with the event its header names', async () => {
    const res = await send(s, { id: 't-3', project: 'acme/throwaway' }, 'guessed', 'build.refused')
    expect(res.status).toBe(401)
    expect((await res.json()).message).toBe('X-Throwaway-Signature does not match the body')
    const { deliveries } = await (await fetch(`${s.url}/api/deliveries?limit=1`, { headers: adminAuth })).json()
    expect(deliveries[0]).toMatchObject({ provider: 'throwaway', outcome: 'rejected', event: 'build.refused' })
  })

  it('leaves the other providers as they were', async () => {
    const res = await fetch(`${s.url}/hooks/github`, { method: 'POST', body: '{}' })
    expect(res.status).toBe(401)
    expect((await res.json()).message).toBe('missing X-Hub-Signature-256 header')
    const unknown = await (await fetch(`${s.url}/hooks/nope`, { method: 'POST', body: '{}' })).json()
    expect(unknown.message).toContain('throwaway')
  })

  it('answers 401 naming its secret variable while that is unset', async () => {
    const bare = await serve({})
    try {
      const res = await send(bare, { id: 't-4', project: 'acme/throwaway' }, 'anything')
      expect(res.status).toBe(401)
      expect((await res.json()).message).toBe(`no secret configured: set ${VAR}`)
    } finally {
      await stop(bare)
    }
  })
})

describe('the registry', () => {
  const provider = (name: string, ...vars: string[]): Provider => ({
    ...throwaway,
    name,
    secrets: Object.fromEntries(vars.map((v) => [v, secretVar('x')])),
  })

  it('refuses two providers with one route name, or one secret variable declared twice', () => {
    expect(() => byName([provider('a', 'A'), provider('a', 'B')])).toThrow('two CI providers are named a')
    expect(() => byName([provider('a', 'S'), provider('b', 'S')])).toThrow('S is a secret variable of both a and b')
    expect([...byName(PROVIDERS).keys()]).toEqual(PROVIDERS.map((p) => p.name))
  })

  it("refuses a provider's secret variable that config.ts already has", () => {
    expect(() => loadConfig({}, [...PROVIDERS, provider('clash', 'PORT')])).toThrow(
      'PORT is declared by a CI provider and by config.ts'
    )
  })

  it('matches the README provider table: one row per provider, in order, with its title, route and secrets', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
    const section = readme.slice(readme.indexOf('## CI webhooks'))
    const table = section.slice(section.indexOf('\n| CI |'))
    const rows = table
      .split('\n\n')[0]!
      .trim()
      .split('\n')
      .slice(2)
      .map((line) => line.split(' | ').map((cell) => cell.replace(/^\| |\s\|$/g, '')))
    const secrets = (p: Provider) =>
      Object.keys(p.secrets)
        .map((v) => `\`${v}\``)
        .join(', ')
    expect(rows.map((r) => [r[0], r[1], r[3]])).toEqual(
      PROVIDERS.map((p) => [p.title, `\`/hooks/${p.name}\``, secrets(p)])
    )
  })
})
