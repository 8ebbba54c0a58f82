/**
 * @module Cases every CI provider test shares (tests only): building deliveries, the verify cases
 * each provider must pass (wrong secret, changed body, no credentials, nothing configured,
 * rotation), one expectation per fixture, and bodies missing what the provider always sends.
 * Register them inside the provider's own `describe`; provider-specific cases stay in its file.
 */
import { describe, expect, it } from 'vitest'
import { buildUpdateSchema, type BuildUpdate } from '../ci/model.ts'
import { BadPayload, type Delivery, type NormalizeResult, type Provider } from '../ci/provider.ts'
import { fixtureNames, loadFixture } from './fixtures.ts'

/** The bytes and headers of a delivery before any credential is added (a `Fixture` is one). */
export interface Sendable {
  raw: Buffer | string
  headers?: Record<string, string>
  /** Names the hook URL, `http://x/hooks/<provider>`. */
  provider?: string
}

/** One of server/test/sign/*: the credential headers a provider would send for `raw`. */
export type Signer = (raw: Buffer, secret: string, now?: number) => Record<string, string>

/** What the shared cases need to know about a provider. */
interface ProviderUnderTest {
  provider: Provider
  sign: Signer
  /** The variable holding the secret; `secret` is configured in it. */
  secretVar: string
  secret: string
  /** Signing and arrival time, for providers with a replay window; default: the real clock. */
  now?: number
}

export function delivery(
  source: Sendable,
  extraHeaders: Record<string, string> = {},
  url: string | URL = `http://x/hooks/${source.provider ?? 'test'}`,
  receivedAt = Date.now()
): Delivery {
  return {
    headers: new Headers({ ...source.headers, ...extraHeaders }),
    raw: Buffer.from(source.raw),
    url: new URL(url),
    receivedAt,
  }
}

/** Unset, empty, and only an empty string: each means nothing is configured. */
const noSecrets = (v: string): Record<string, string[]>[] => [{}, { [v]: [] }, { [v]: [''] }]

/** No bytes to speak of: for providers that read the event from the body passed alongside. */
const EMPTY: Sendable = { raw: '{}' }

const secretsOf = (p: ProviderUnderTest) => ({ [p.secretVar]: [p.secret] })

const sendable = (p: ProviderUnderTest, source: Sendable | string): Sendable =>
  typeof source === 'string' ? loadFixture(p.provider.name, source) : source

function withAuth(p: ProviderUnderTest, source: Sendable | string, auth: Record<string, string>) {
  const at = p.now ?? Date.now()
  return delivery(sendable(p, source), auth, `http://x/hooks/${p.provider.name}`, at)
}

function signed(p: ProviderUnderTest, source: Sendable | string, secret = p.secret) {
  const s = sendable(p, source)
  return withAuth(p, s, p.sign(Buffer.from(s.raw), secret, p.now ?? Date.now()))
}

/**
 * The shared helpers bound to one provider, tested with `secret` configured in `secretVar`
 * (written `{ [secretVar]: secret }`). Sources are names of the provider's fixtures or bytes with
 * headers; the `*Cases` functions register tests in the caller's `describe`.
 */
export function providerCases(
  provider: Provider,
  sign: Signer,
  configured: Record<string, string>,
  options: { now?: number } = {}
) {
  const [[secretVar, secret]] = Object.entries(configured) as [[string, string]]
  const p: ProviderUnderTest = { provider, sign, secretVar, secret, ...options }
  /** The build `body` normalizes to; fails unless it is one and fits the schema. */
  function build(body: unknown, source: Sendable | string = EMPTY) {
    const r = provider.normalize(signed(p, source), body)
    if (r.kind !== 'build') throw new Error(`expected a build, got ${JSON.stringify(r)}`)
    expect(() => buildUpdateSchema.parse(r.update)).not.toThrow()
    return r
  }
  return {
    ...p,
    /** The configuration the provider is tested against: `{ [secretVar]: [secret] }`. */
    secrets: secretsOf(p),
    /** The delivery received for `source`, signed with `secret` (by default the configured one). */
    signed: (source: Sendable | string, secret = p.secret) => signed(p, source, secret),
    /** The delivery received for `source` with exactly these credential headers. */
    withAuth: (source: Sendable | string, auth: Record<string, string>) => withAuth(p, source, auth),
    /** Normalizes `body` as received in `source` (by default `EMPTY`). */
    normalize: (body: unknown, source: Sendable | string = EMPTY) => p.provider.normalize(signed(p, source), body),
    build,
    /** Expects each body of `table` (made by `bodyFor`) to give its status; returns the updates. */
    expectStatuses(
      table: Record<string, string>,
      bodyFor: (given: string) => unknown,
      source: Sendable | string = EMPTY
    ) {
      const updates: Record<string, BuildUpdate> = {}
      for (const [given, status] of Object.entries(table)) {
        updates[given] = build(bodyFor(given), source).update
        expect(updates[given]!.status, given).toBe(status)
      }
      return updates
    },
    /** Expects `body` to be ignored rather than refused or guessed at (with `reason`, if given). */
    expectIgnored(body: unknown, reason?: string, source: Sendable | string = EMPTY) {
      const r = p.provider.normalize(signed(p, source), body)
      expect(r.kind, JSON.stringify(r)).toBe('ignored')
      if (reason !== undefined) expect(r.kind === 'ignored' && r.reason).toBe(reason)
    },
    verifyCases: (c: VerifyCases) => verifyCases(p, c),
    fixtureCases: (c: FixtureCases) => fixtureCases(p, c),
    /** Registers one case per entry, named by its key: each body is refused as a `BadPayload`. */
    badPayloadCases: (cases: Record<string, unknown[]>, source: Sendable | string = EMPTY) => {
      for (const [name, bodies] of Object.entries(cases)) {
        it(name, () => expectBadPayload(p, source, bodies))
      }
    },
    /**
     * Registers one case per entry, named by its key: the body of `source` without the `drop`
     * path(s) is refused as a `BadPayload` whose message contains `message`, by default
     * `missing <first dropped path>`.
     */
    requiredCases: (source: Sendable | string, cases: Record<string, Required>) => {
      for (const [name, [drop, message]] of Object.entries(cases)) {
        const paths = typeof drop === 'string' ? [drop] : drop
        it(name, () => {
          const s = sendable(p, source)
          const body = without(JSON.parse(Buffer.from(s.raw).toString('utf8')), ...paths)
          expectBadPayload(p, s, [body], message ?? `missing ${paths[0]}`)
        })
      }
    },
  }
}

/** The paths a required-field case drops (one or several), and the message it expects. */
export type Required = [drop: string | string[], message?: string]

/** Every time field of a build that has not started. */
export const noTimes = { queuedAt: null, startedAt: null, finishedAt: null, durationMs: null }

/** A copy of `raw` with one bit of one byte (by default the middle one) flipped. */
export function flipByte(raw: Buffer, at = Math.floor(raw.length / 2)): Buffer {
  const copy = Buffer.from(raw)
  copy[at] = copy[at]! ^ 1
  return copy
}

/** A deep copy of `body` without the given dotted paths. */
export function without(body: any, ...paths: string[]): any {
  const copy = structuredClone(body)
  for (const path of paths) {
    const keys = path.split('.')
    const last = keys.pop()!
    const parent = keys.reduce((o, k) => o?.[k], copy)
    if (parent) delete parent[last]
  }
  return copy
}

/** A deep copy of `body` with the dotted `path` set to `value`. */
export function withField(body: any, path: string, value: unknown): any {
  const copy = structuredClone(body)
  const keys = path.split('.')
  const last = keys.pop()!
  keys.reduce((o, k) => o[k], copy)[last] = value
  return copy
}

export interface VerifyCases {
  /** A body and headers without credentials; a fixture name or bytes. */
  sample: Sendable | string
  /** Whether the credential covers the body; a bare token does not. */
  tamperable: boolean
  /** What the credential is called in the test names. */
  noun?: 'secret' | 'token'
  reasons: {
    /** Credentials made with another secret. */
    wrongSecret: string
    /** No credential header at all. */
    missing: string
    /** The body changed after signing; default: `wrongSecret`. */
    tampered?: string
  }
}

/** Registers the verify cases every provider shares. */
function verifyCases(p: ProviderUnderTest, c: VerifyCases) {
  const { provider, secretVar } = p
  const { sample, reasons, noun = 'secret' } = c
  const secrets = secretsOf(p)
  const rejected = (reason: string) => ({ ok: false, reason })

  it(`rejects a delivery authenticated with another ${noun}`, () => {
    const d = signed(p, sample, `wrong-${noun}`)
    expect(provider.verify(d, secrets)).toEqual(rejected(reasons.wrongSecret))
  })

  if (c.tamperable) {
    it('rejects a body changed by one byte after signing', () => {
      const d = signed(p, sample)
      const r = provider.verify({ ...d, raw: flipByte(d.raw) }, secrets)
      expect(r).toEqual(rejected(reasons.tampered ?? reasons.wrongSecret))
    })
  } else {
    const bare = `the ${noun} signs nothing`
    it(`does not protect the body: ${bare}, so a changed body still passes`, () => {
      const d = signed(p, sample)
      expect(provider.verify({ ...d, raw: flipByte(d.raw) }, secrets)).toEqual({ ok: true })
    })
  }

  it('rejects a delivery without credentials, naming what to send', () => {
    expect(provider.verify(withAuth(p, sample, {}), secrets)).toEqual(rejected(reasons.missing))
  })

  // The route names the variables to set before it asks (hooks.test.ts); an empty secret must still never match.
  it(`refuses a delivery when no ${noun} is configured`, () => {
    for (const s of noSecrets(secretVar)) {
      expect(provider.verify(signed(p, sample), s).ok, JSON.stringify(s)).toBe(false)
    }
  })

  it(`accepts both the old and the new ${noun} during a rotation`, () => {
    const rotation = { [secretVar]: [`old-${noun}`, `new-${noun}`] }
    for (const s of [`old-${noun}`, `new-${noun}`]) {
      expect(provider.verify(signed(p, sample, s), rotation), s).toEqual({ ok: true })
    }
    const other = signed(p, sample, `other-${noun}`)
    expect(provider.verify(other, rotation)).toEqual(rejected(reasons.wrongSecret))
  })
}

/** What one fixture normalizes to. */
export type Expected =
  | { kind?: 'build'; event: string; deliveryId: string; update: BuildUpdate }
  | { kind: 'ignored'; event: string; reason: string; deliveryId?: string }
  | { kind: 'ping'; event: string }

/** Compares field by field so a failure names the field, then checks the schema. */
export function expectFields(actual: BuildUpdate, want: BuildUpdate, name = '') {
  const at = (what: string) => (name ? `${name}: ${what}` : what)
  for (const [field, value] of Object.entries(want)) {
    expect(actual[field as keyof BuildUpdate], at(field)).toEqual(value)
  }
  expect(Object.keys(actual).sort(), at('fields')).toEqual(Object.keys(want).sort())
  expect(() => buildUpdateSchema.parse(actual), at('schema')).not.toThrow()
}

function expectResult(r: NormalizeResult, want: Expected, name = '') {
  if (want.kind === 'ignored' || want.kind === 'ping') {
    expect(r, name).toEqual(want)
    return
  }
  expect(r.kind, `${name}: kind`).toBe('build')
  if (r.kind !== 'build') return
  expect(r.event, `${name}: event`).toBe(want.event)
  expect(r.deliveryId, `${name}: deliveryId`).toBe(want.deliveryId)
  expectFields(r.update, want.update, name)
}

const outcome = (want: Expected | undefined) =>
  want?.kind === 'ignored'
    ? 'is ignored with the expected reason and delivery id'
    : want?.kind === 'ping'
      ? 'is answered as a ping'
      : 'normalizes to the expected build update, field by field'

export interface FixtureCases {
  /** One entry per fixture of the provider, by fixture name. */
  expected: Record<string, Expected>
  /** How the fixtures are authenticated, for the test name. */
  how?: string
}

/**
 * Registers a check that every fixture has an expectation, then for each fixture: it verifies
 * when authenticated with the configured secret, and normalizes to its expectation.
 */
function fixtureCases(p: ProviderUnderTest, c: FixtureCases) {
  const folder = p.provider.name
  const secrets = secretsOf(p)

  it(`has an expectation for every ${folder} fixture`, () => {
    expect(Object.keys(c.expected).sort()).toEqual(fixtureNames(folder))
  })

  describe.each(fixtureNames(folder))('fixture %s', (name) => {
    const f = loadFixture(folder, name)
    const want = c.expected[name]

    it(`verifies when ${c.how ?? 'signed with the configured secret'}`, () => {
      expect(p.provider.verify(signed(p, f), secrets)).toEqual({ ok: true })
    })

    it(outcome(want), () => {
      expectResult(p.provider.normalize(signed(p, f), f.body), want!, name)
    })
  })
}

function expectBadPayload(p: ProviderUnderTest, source: Sendable | string, bodies: unknown[], message?: string) {
  const d = signed(p, source)
  for (const [i, body] of bodies.entries()) {
    let error: unknown
    try {
      p.provider.normalize(d, body)
    } catch (e) {
      error = e
    }
    expect(error, `body ${i}`).toBeInstanceOf(BadPayload)
    if (message) expect((error as Error).message, `body ${i}`).toContain(message)
  }
}
