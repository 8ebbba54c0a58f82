/**
 * @module The test kit's signers: `<route name>.ts` beside this file exports `sign`, the headers that
 * provider sends for a body, made with a secret exactly as it makes them. Found by file name, so a
 * provider's signer is its own file and no list here; a test checks each names a registry provider.
 */
import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { ConfigVar } from '../../config.ts'
import { PROVIDERS } from '../../ci/registry.ts'

export type Signer = (raw: Buffer, secret: string, now?: number) => Record<string, string>

async function signers(): Promise<Record<string, Signer>> {
  const files = readdirSync(fileURLToPath(new URL('.', import.meta.url))).filter(
    (f) => f.endsWith('.ts') && f !== 'index.ts'
  )
  const entries = await Promise.all(
    files.map(async (f): Promise<[string, Signer]> => {
      const mod: { sign?: unknown } = await import(`./${f}`)
      if (typeof mod.sign !== 'function') throw new Error(`server/test/sign/${f} exports no sign function`)
      return [f.slice(0, -'.ts'.length), mod.sign as Signer]
    })
  )
  return Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b)))
}

/** The headers each provider sends for `raw`, signed with `secret` exactly as it signs, by route name. */
export const SIGNERS: Readonly<Record<string, Signer>> = await signers()

/** Test-server environment with `secret` in every provider's first secret variable (the one its signer signs with). */
export function hookSecrets(secret: string): Partial<Record<ConfigVar, string>> {
  return Object.fromEntries(PROVIDERS.map((p) => [Object.keys(p.secrets)[0]!, secret]))
}
