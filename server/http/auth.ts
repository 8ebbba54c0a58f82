/**
 * @module Credentials as requests carry them: the one constant-time comparison and the one
 * `Authorization` header reader, used by the webhook verifiers (ci/) and the API tokens (access/).
 */
import { createHash, timingSafeEqual } from 'node:crypto'

/** Constant-time string equality: both sides are hashed first, so neither content nor length shows in the timing. */
export function safeEqual(a: string | Buffer, b: string | Buffer): boolean {
  const da = createHash('sha256').update(a).digest()
  const db = createHash('sha256').update(b).digest()
  return timingSafeEqual(da, db)
}

/**
 * True when `given` equals one of the `configured` secrets, or what `compute` makes of one (a
 * signature). Every secret is tried, with no early exit, so the timing does not tell which matched.
 */
export function secretIn(
  given: string,
  configured: readonly string[],
  compute: (secret: string) => string = (secret) => secret
): boolean {
  let ok = false
  for (const secret of configured) ok = safeEqual(compute(secret), given) || ok
  return ok
}

/**
 * The token of `Authorization: Bearer <token>`, or the password of `Basic <base64 user:password>`
 * (how cctray clients and webhook URLs with user:token send one); null for anything else, an empty
 * password included.
 */
export function credentialFrom(authorization: string | null | undefined): string | null {
  if (!authorization) return null
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization)
  if (bearer) return bearer[1]!
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization)
  if (!basic) return null
  const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  return (colon < 0 ? decoded : decoded.slice(colon + 1)) || null
}
