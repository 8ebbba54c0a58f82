import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { CONFIG_DOCS, ConfigError, loadConfig } from './config.ts'
import { ROOT } from './http/web-build.ts'
import { PROVIDERS } from './ci/registry.ts'

describe('config', () => {
  it('has working defaults for an empty environment', () => {
    const c = loadConfig({})
    expect(c.PORT).toBe(8080)
    expect(c.DATA_DIR).toBe('./data')
    expect(c.LIVE_TRANSPORTS).toEqual(['ws', 'sse', 'poll'])
    expect(c.GITHUB_WEBHOOK_SECRET).toEqual([])
  })

  it('splits secret lists so secrets can be rotated', () => {
    expect(loadConfig({ GITHUB_WEBHOOK_SECRET: 'old, new,' }).GITHUB_WEBHOOK_SECRET).toEqual(['old', 'new'])
  })

  it.each([
    ['PORT', '70000', 'Invalid PORT="70000": expected an integer 0–65535'],
    ['LOG_LEVEL', 'loud', 'Invalid LOG_LEVEL="loud": expected one of debug, info, warn, error, silent'],
    [
      'LIVE_TRANSPORTS',
      'ws,carrier-pigeon',
      'Invalid LIVE_TRANSPORTS="ws,carrier-pigeon": expected a comma-separated subset of ws, sse, poll (the transports served)',
    ],
    [
      'TRUST_PROXY',
      'maybe',
      'Invalid TRUST_PROXY="maybe": expected true or false: believe X-Forwarded-For / X-Forwarded-Proto from a reverse proxy',
    ],
  ])('rejects %s=%s with one line naming the variable', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError)
    expect(() => loadConfig({ [name]: value })).toThrow(message)
  })

  it('takes the PostgreSQL store and the NATS live stream together or not at all', () => {
    const pg = 'postgres://radiator@db:5432/radiator'
    expect(() => loadConfig({ DATABASE_URL: pg })).toThrow('DATABASE_URL is set: set LIVE_BUS_URL too')
    expect(() => loadConfig({ LIVE_BUS_URL: 'nats://nats:4222' })).toThrow('LIVE_BUS_URL is set: set DATABASE_URL too')
    expect(() => loadConfig({ DATABASE_URL: pg, LIVE_BUS_URL: 'http://nats:4222' })).toThrow(
      'Invalid LIVE_BUS_URL="http://nats:4222"'
    )
    expect(() => loadConfig({ LIVE_STREAM_NAME: 'a.b' })).toThrow('Invalid LIVE_STREAM_NAME="a.b"')
    const c = loadConfig({ DATABASE_URL: pg, LIVE_BUS_URL: 'nats://nats:4222' })
    expect([c.DATABASE_URL, c.LIVE_BUS_URL, c.LIVE_STREAM_NAME]).toEqual([pg, 'nats://nats:4222', 'radiator'])
  })

  it('documents every variable in the README table', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
    for (const d of CONFIG_DOCS) expect(readme).toContain(`| \`${d.name}\` |`)
  })

  it("has each CI provider's secret variables as its file declares them, each documented in the README as declared", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
    const declared = PROVIDERS.flatMap((p) => Object.entries(p.secrets))
    expect(declared.length).toBeGreaterThanOrEqual(PROVIDERS.length)
    for (const [name, [, accepts, shown]] of declared) {
      expect(CONFIG_DOCS.filter((d) => d.name === name)).toEqual([{ name, accepts, default: shown }])
      expect(readme).toContain(`| \`${name}\` | ${shown} | ${accepts} |`)
      expect((loadConfig({ [name]: 'a,b' }) as unknown as Record<string, unknown>)[name]).toEqual(['a', 'b'])
    }
  })
})
