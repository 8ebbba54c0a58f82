/** @module Authenticates a delivery as an Azure DevOps Web Hooks subscription does (test only). */

/** HTTP Basic with the token as password; Azure lets the username be anything. */
export function sign(_raw: Buffer, secret: string, _now = Date.now()): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`azure:${secret}`).toString('base64')}` }
}

/** The custom-header alternative, set in the subscription's `httpHeaders`. */
export function signHeader(_raw: Buffer, secret: string): Record<string, string> {
  return { 'x-radiator-token': secret }
}
