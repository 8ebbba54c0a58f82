/** @module Authenticates a body as GitLab does, with either of its two mechanisms (test only). */
import { createHmac } from 'node:crypto'

/** Classic secret token: sent in clear text. */
export function signToken(secret: string): Record<string, string> {
  return { 'X-Gitlab-Token': secret }
}

/** Standard Webhooks signing token `whsec_<base64 key>`: HMAC over `<id>.<ts>.<body>`. */
export function signStandard(raw: Buffer, whsecToken: string, id: string, now = Date.now()): Record<string, string> {
  const ts = String(Math.floor(now / 1000))
  const key = Buffer.from(whsecToken.replace(/^whsec_/, ''), 'base64')
  const sig = createHmac('sha256', key).update(`${id}.${ts}.`).update(raw).digest('base64')
  return { 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': `v1,${sig}` }
}

export function sign(_raw: Buffer, secret: string, _now = Date.now()): Record<string, string> {
  return signToken(secret)
}
