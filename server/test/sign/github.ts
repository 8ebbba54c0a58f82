/** @module Signs a body as GitHub does (test only; independent of the verifier's helpers). */
import { createHmac } from 'node:crypto'

export function sign(raw: Buffer, secret: string, _now = Date.now()): Record<string, string> {
  const hex = createHmac('sha256', secret).update(raw).digest('hex')
  return { 'X-Hub-Signature-256': `sha256=${hex}` }
}
