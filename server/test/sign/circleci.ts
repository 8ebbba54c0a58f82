/** @module Signs a body as CircleCI does (test only; independent of the verifier's helpers). */
import { createHmac } from 'node:crypto'

export function sign(raw: Buffer, secret: string, _now = Date.now()): Record<string, string> {
  return { 'circleci-signature': `v1=${createHmac('sha256', secret).update(raw).digest('hex')}` }
}
