/** @module Authenticates a body as a script posting to the generic hook does (test only). */

export function sign(_raw: Buffer, secret: string, _now = Date.now()): Record<string, string> {
  return { authorization: `Bearer ${secret}` }
}
