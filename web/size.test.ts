/**
 * The dashboard's initial JS — the entry script of the built index.html and every chunk it imports
 * statically — stays within 60 KB gzipped. Lazy routes (dynamic `import()`) are not initial.
 */
import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { WEB_DIST } from '../server/http/web-build.ts'

const BUDGET = 60 * 1024

/** Static imports of an ES module chunk: `import x from "./a.js"`, `import "./a.js"`, `export … from`. */
export function staticImports(code: string): string[] {
  const out = new Set<string>()
  const re = /(?:^|[;}\s])(?:import|export)\s*(?:[\w$*{}\s,]+?\s*from\s*)?["']([^"']+\.js)["']/g
  for (const m of code.matchAll(re)) out.add(m[1]!)
  return [...out]
}

describe('dashboard bundle size', () => {
  it('keeps the initial JS (entry + static imports) at most 60 KB gzipped', () => {
    const html = readFileSync(join(WEB_DIST, 'index.html'), 'utf8')
    const entry = /<script type="module"[^>]*src="\/([^"]+)"/.exec(html)?.[1]
    expect(entry, 'entry script in web/dist/index.html').toBeTruthy()
    const seen = new Set<string>()
    const visit = (file: string) => {
      if (seen.has(file)) return
      seen.add(file)
      const code = readFileSync(join(WEB_DIST, file), 'utf8')
      for (const spec of staticImports(code)) visit(join(file, '..', spec))
    }
    visit(entry!)
    // Chunks the page preloads are fetched up front too.
    for (const m of html.matchAll(/<link rel="modulepreload"[^>]*href="\/([^"]+)"/g)) visit(m[1]!)
    let raw = 0
    let gz = 0
    for (const f of seen) {
      const buf = readFileSync(join(WEB_DIST, f))
      raw += buf.length
      gz += gzipSync(buf, { level: 9 }).length
    }
    console.log(
      `initial JS: ${seen.size} files, ${(raw / 1024).toFixed(1)} KB raw, ${(gz / 1024).toFixed(1)} KB gzipped (budget 60 KB)`
    )
    expect(seen.size).toBeGreaterThan(0)
    expect(gz).toBeLessThanOrEqual(BUDGET)
  })

  it('finds static imports but not dynamic ones', () => {
    const code = `import{a as b}from"./view-1.js";import"./side.js";const x=()=>import("./lazy.js");export{c}from"./re.js";`
    expect(staticImports(code).sort()).toEqual(['./re.js', './side.js', './view-1.js'])
  })
})
