/** @module Bearer-token check for POST /api/metrics: constant time, every configured token tried. */
import { createHash, timingSafeEqual } from 'node:crypto'
import { AppError } from '../errors.ts'

const digest = (s: string) => createHash('sha256').update(s).digest()

/** Throws 401 unless `authorization` carries one of `tokens` as a Bearer token. */
export function requireBearer(authorization: string | undefined, tokens: readonly string[], variable: string): void {
  if (tokens.length === 0) throw new AppError('UNAUTHORIZED', `${variable} is not set: pushing metrics is disabled`)
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')
  if (!m) throw new AppError('UNAUTHORIZED', 'send Authorization: Bearer <token>')
  // Both sides hashed, so neither a token's content nor its length shows in the timing.
  const given = digest(m[1]!)
  let ok = false
  for (const t of tokens) ok = timingSafeEqual(digest(t), given) || ok
  if (!ok) throw new AppError('UNAUTHORIZED', 'wrong token')
}
