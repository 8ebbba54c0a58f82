/** @module Signs a body as Buildkite does, in either of its two modes (test only). */
import { createHmac } from 'node:crypto'

/** Signature mode: HMAC over `<unix seconds>.<body>`. */
export function sign(raw: Buffer, secret: string, now = Date.now()): Record<string, string> {
  const ts = Math.floor(now / 1000)
  const signature = createHmac('sha256', secret).update(`${ts}.`).update(raw).digest('hex')
  return { 'x-buildkite-signature': `timestamp=${ts},signature=${signature}` }
}

/** Token mode: the token in clear text. */
export function signToken(_raw: Buffer, secret: string): Record<string, string> {
  return { 'x-buildkite-token': secret }
}
