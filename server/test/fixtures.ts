/** @module Reads the real provider payloads in ../shared/fixtures/webhooks (tests only). */
import { readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'

export const FIXTURES_DIR = fileURLToPath(new URL('../../../shared/fixtures/webhooks', import.meta.url))

export interface Fixture {
  provider: string
  name: string
  /** The body bytes exactly as stored: tests sign and send these, never a re-serialization. */
  raw: Buffer
  headers: Record<string, string>
  body: any
}

export function loadFixture(provider: string, name: string): Fixture {
  const raw = readFileSync(join(FIXTURES_DIR, provider, `${name}.json`))
  const headers = JSON.parse(readFileSync(join(FIXTURES_DIR, provider, `${name}.headers.json`), 'utf8'))
  return { provider, name, raw, headers, body: JSON.parse(raw.toString('utf8')) }
}

export function fixtureNames(provider: string): string[] {
  return readdirSync(join(FIXTURES_DIR, provider))
    .filter((f) => f.endsWith('.json') && !f.endsWith('.headers.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort()
}

/** The providers with a folder of real payloads (not every provider has one). */
export function fixtureProviders(): string[] {
  return readdirSync(FIXTURES_DIR, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort()
}
