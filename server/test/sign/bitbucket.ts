/** @module Signs a body as Bitbucket Cloud does: SHA-256 under `X-Hub-Signature` (test only). */
import { createHmac } from 'node:crypto'

export function sign(raw: Buffer, secret: string, _now = Date.now()): Record<string, string> {
  return { 'X-Hub-Signature': `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}` }
}
