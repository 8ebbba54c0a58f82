/**
 * @module Credentials as random strings, stored only as hashes. Tokens and session ids are 256-bit
 * random values, so a fast SHA-256 is the right hash (a slow password hash guards low-entropy
 * secrets; these are not). Lookups go by hash, so a stored secret is never compared as text;
 * a configured one (ADMIN_TOKEN) is compared by `secretIn` (http/auth.ts).
 */
import { createHash, randomBytes } from 'node:crypto'

/** A new secret with a prefix that says what it is (and lets secret scanners find a leaked one). */
export function newSecret(prefix: 'rad' | 'ras' | 'rsi' | 'rpr' | 'rsl'): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`
}

/** A short public id for lists and logs (never enough to use as a credential). */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(6).toString('base64url')}`
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url')
}
