/**
 * @module The contract every CI provider file fulfils: verify a delivery over its raw bytes, then
 * normalize it into a `BuildUpdate` (or say why it is ignored). Providers do nothing else: no I/O,
 * no database, no clock except the one passed in.
 */
import type { BuildUpdate } from './model.ts'
import type { ProviderName } from '../../contract/builds.ts'

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

export interface Provider {
  name: ProviderName
  /** Environment variables holding this provider's secrets, for the 401 hint and the README. */
  secretVars: readonly string[]
  /**
   * Check the delivery against the configured secrets (each a comma-separated rotation list,
   * already split). Called before the body is parsed. Must compare in constant time.
   */
  verify(delivery: Delivery, secrets: Record<string, readonly string[]>): VerifyResult
  /**
   * Turn the parsed JSON body into a result. Throws `BadPayload` when the body lacks what the
   * provider always sends.
   */
  normalize(delivery: Delivery, body: unknown): NormalizeResult
}

/** A body that parsed as JSON but is not what the provider sends: answered 400 with the reason. */
export class BadPayload extends Error {
  override name = 'BadPayload'
}
