/**
 * @module Signature helpers and verdicts shared by the provider files. Comparing a given secret or
 * signature with the configured ones is `secretIn` (http/auth.ts): constant time, every secret tried.
 */
import { createHmac } from 'node:crypto'
import type { VerifyResult } from './provider.ts'

export const OK: VerifyResult = { ok: true }
export const fail = (reason: string): VerifyResult => ({ ok: false, reason })

export function hmacHex(key: string | Buffer, ...parts: (string | Buffer)[]): string {
  const h = createHmac('sha256', key)
  for (const p of parts) h.update(p)
  return h.digest('hex')
}

export function hmacBase64(key: string | Buffer, ...parts: (string | Buffer)[]): string {
  const h = createHmac('sha256', key)
  for (const p of parts) h.update(p)
  return h.digest('base64')
}

/** The configured secrets for `name`, without empty entries (an empty secret must never match). */
export function secretList(secrets: Record<string, readonly string[]>, name: string): readonly string[] {
  return (secrets[name] ?? []).filter((s) => s !== '')
}
