/** @module Signs a body as Drone does: HTTP Signatures over Date and Digest (test only). */
import { createHash, createHmac } from 'node:crypto'

export function sign(raw: Buffer, secret: string, now = Date.now()): Record<string, string> {
  const date = new Date(now).toUTCString()
  const digest = `SHA-256=${createHash('sha256').update(raw).digest('base64')}`
  const signature = createHmac('sha256', secret).update(`date: ${date}\ndigest: ${digest}`).digest('base64')
  const params = `keyId="hmac-key",algorithm="hmac-sha256",signature="${signature}"`
  return { date, digest, signature: `${params},headers="date digest"` }
}
