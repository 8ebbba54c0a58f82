/** @module Authenticates a delivery as the Jenkins Notification plugin does (test only). */

/** `https://user:token@host/…` in the endpoint URL becomes HTTP Basic. */
export function sign(_raw: Buffer, secret: string, _now = Date.now()): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`jenkins:${secret}`).toString('base64')}` }
}
