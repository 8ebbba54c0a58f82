/**
 * @module The contract every CI provider file fulfils: it says what it is (route name, title, secret
 * variables, event headers), verifies a delivery over its raw bytes, then normalizes it into a
 * `BuildUpdate` (or says why it is ignored). Providers do nothing else: no I/O, no database, no
 * configuration read, no clock except the one passed in.
 */
import { z } from 'zod'
import type { BuildUpdate } from './model.ts'
import type { ProviderName } from '../../contract/builds.ts'

/**
 * A provider's secret variable as a configuration entry, the shape config.ts gives every variable:
 * its schema (value → a list of secrets), what it accepts (errors, README) and the default the README shows.
 */
export type SecretEntry = readonly [schema: z.ZodType<string[], string | undefined>, accepts: string, shown: string]

/** Comma-separated, so a secret can be rotated without a missed delivery; empty entries are dropped. */
const rotationList = z.string().transform((s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
)

/** A variable holding a comma-separated list of secrets; unset, the provider's route answers 401. */
export function secretVar(accepts: string, shown = '(unset: route answers 401)'): SecretEntry {
  return [rotationList.default([]), accepts, shown]
}

/** A received webhook delivery, before any parsing. */
export interface Delivery {
  /** Lower-cased header names. */
  headers: Headers
  /** The exact bytes received: signatures are computed over these. */
  raw: Buffer
  url: URL
  /** Server time of arrival (ms epoch), for replay windows. */
  receivedAt: number
}

export type VerifyResult = { ok: true } | { ok: false; reason: string }

export type NormalizeResult =
  /** A build state. `deliveryId` is the provider's delivery id, or a natural key where it has none. */
  | { kind: 'build'; event: string; deliveryId: string; update: BuildUpdate }
  /** A hook test / ping: answered 200, nothing stored. */
  | { kind: 'ping'; event: string }
  /** Not about builds: answered 202 `{ignored: reason}` so the provider does not retry. */
  | { kind: 'ignored'; event: string; reason: string; deliveryId?: string }

export interface Provider<Secret extends string = string> {
  /** The route: `POST /hooks/<name>`. */
  name: ProviderName
  /** The CI system's name, as the README's provider table shows it. */
  title: string
  /**
   * Its environment variables, read by config.ts like any other. The first is the one to set when
   * one is enough; the route's 401 names them all while none is set.
   */
  secrets: { readonly [V in Secret]: SecretEntry }
  /** Headers naming the event, for the delivery log of a delivery refused before it is normalized. */
  eventHeaders: readonly string[]
  /**
   * Check the delivery against the configured secrets (each a rotation list, already split). Called
   * before the body is parsed, and only once one of its variables is set. Must compare in constant
   * time (http/auth.ts), and refuse everything when given no secrets.
   */
  verify(delivery: Delivery, secrets: Record<string, readonly string[]>): VerifyResult
  /**
   * Turn the parsed JSON body into a result. Throws `BadPayload` when the body lacks what the
   * provider always sends.
   */
  normalize(delivery: Delivery, body: unknown): NormalizeResult
}

/** Declares a provider, keeping its secret variables' names in its type (so `Config` knows them). */
export function defineProvider<Secret extends string>(provider: Provider<Secret>): Provider<Secret> {
  return provider
}

/** The names of a provider's secret variables, as a type. */
export type SecretVarOf<P> = P extends Provider<infer Secret> ? Secret : never

/** A body that parsed as JSON but is not what the provider sends: answered 400 with the reason. */
export class BadPayload extends Error {
  override name = 'BadPayload'
}
