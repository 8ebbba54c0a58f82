/** @module Signs a body as Gitea does: its own header plus GitHub-compatible ones (test only). */
import { createHmac } from 'node:crypto'

const hmac = (alg: string, secret: string, raw: Buffer) => createHmac(alg, secret).update(raw).digest('hex')

export function sign(raw: Buffer, secret: string, _now = Date.now()): Record<string, string> {
  return {
    'X-Gitea-Signature': hmac('sha256', secret, raw),
    'X-Hub-Signature': `sha1=${hmac('sha1', secret, raw)}`,
    'X-Hub-Signature-256': `sha256=${hmac('sha256', secret, raw)}`,
  }
}

/** Forgejo sends the same set plus X-Forgejo-Signature. */
export function signForgejo(raw: Buffer, secret: string, now = Date.now()): Record<string, string> {
  return { ...sign(raw, secret, now), 'X-Forgejo-Signature': hmac('sha256', secret, raw) }
}
