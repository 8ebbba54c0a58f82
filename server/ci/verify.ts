/**
 * @module Signature and token checks shared by the provider files. Every comparison is constant
 * time over equal-length digests, so neither a secret's content nor its length leaks through timing.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import type { VerifyResult } from './provider.ts'

export const OK: VerifyResult = { ok: true }
export const fail = (reason: string): VerifyResult => ({ ok: false, reason })

/** Constant-time string equality: both sides are hashed first so their lengths don't matter. */
export function safeEqual(a: string | Buffer, b: string | Buffer): boolean {
  const da = createHash('sha256').update(a).digest()
  const db = createHash('sha256').update(b).digest()
  return timingSafeEqual(da, db)
}

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

/** True when `given` equals `compute(secret)` for any of the rotation secrets. */
export function matchesAny(secrets: readonly string[], given: string, compute: (secret: string) => string): boolean {
  let ok = false
  // No early exit: every secret is tried, so timing does not tell which one matched.
  for (const s of secrets) ok = safeEqual(compute(s), given) || ok
  return ok
}

/** The password of an HTTP Basic header, or the token of a Bearer header; null when absent. */
export function credentialFrom(headers: Headers): string | null {
  const auth = headers.get('authorization')
  if (!auth) return null
  const [scheme, value] = auth.split(/\s+/, 2)
  if (!scheme || !value) return null
  if (scheme.toLowerCase() === 'bearer') return value.trim()
  if (scheme.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8')
    const i = decoded.indexOf(':')
    return i === -1 ? decoded : decoded.slice(i + 1)
  }
  return null
}

/** The configured secrets for `name`, without empty entries (an empty secret must never match). */
export function secretList(secrets: Record<string, readonly string[]>, name: string): readonly string[] {
  return (secrets[name] ?? []).filter((s) => s !== '')
}

/** The 401 reason a provider with nothing configured gives: it names what to set. */
export const noSecret = (...vars: string[]) => fail(`no secret configured: set ${vars.join(' or ')}`)
