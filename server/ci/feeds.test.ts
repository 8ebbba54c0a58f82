import { XMLParser, XMLValidator } from 'fast-xml-parser'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestServer, type TestServer } from '../test/harness.ts'
import { xmlEscape } from './feeds.ts'

const TOKEN = 'generic-token-for-feeds'
let s: TestServer
beforeAll(async () => {
  s = await startTestServer({ GENERIC_WEBHOOK_TOKEN: TOKEN })
})
afterAll(() => s.destroy())

async function hook(body: Record<string, unknown>) {
  const res = await fetch(`${s.url}/hooks/generic`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  expect(res.status, await res.clone().text()).toBe(200)
  return res.json()
}

// ---------------------------------------------------------------------------------------------
// A strict XML 1.0 reader. fast-xml-parser's validator accepts characters XML forbids and its
// parser applies neither end-of-line nor attribute-value normalisation, so this adds what a
// conforming parser (libxml2 in BuildNotify and CCMenu) does.

const isXmlChar = (cp: number) =>
  cp === 0x9 ||
  cp === 0xa ||
  cp === 0xd ||
  (cp >= 0x20 && cp <= 0xd7ff) ||
  (cp >= 0xe000 && cp <= 0xfffd) ||
  (cp >= 0x10000 && cp <= 0x10ffff)
const NAMED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }
const REF = /&(?:#x([0-9a-fA-F]+)|#([0-9]+)|([A-Za-z]+));/g
const decodeRefs = (v: string) =>
  v.replace(REF, (_, hex, dec, name) =>
    name ? NAMED[name]! : String.fromCodePoint(parseInt(hex ?? dec, hex ? 16 : 10))
  )

/** Parses `xml` as a conforming XML 1.0 processor would, or throws saying why it is not XML. */
function strictXml(xml: string): any {
  let at = 0
  for (const ch of xml) {
    const cp = ch.codePointAt(0)!
    if (!isXmlChar(cp))
      throw new Error(`not XML: character U+${cp.toString(16).toUpperCase().padStart(4, '0')} at ${at}`)
    at += ch.length
  }
  for (const m of xml.matchAll(/&[^;]{0,10};?/g)) {
    const ref = /^&(?:#x([0-9a-fA-F]+)|#([0-9]+)|(lt|gt|amp|quot|apos));$/.exec(m[0])
    if (!ref) throw new Error(`not XML: bare or unknown reference ${JSON.stringify(m[0])} at ${m.index}`)
    const cp = ref[1] ? parseInt(ref[1], 16) : ref[2] ? parseInt(ref[2], 10) : 0x20
    if (!isXmlChar(cp)) throw new Error(`not XML: reference ${m[0]} to a forbidden character`)
  }
  const valid = XMLValidator.validate(xml)
  if (valid !== true) throw new Error(`not XML: ${valid.err.msg} (line ${valid.err.line})`)
  // End-of-line normalisation happens before parsing; attribute values then turn literal white
  // space into spaces, and only then are references replaced.
  const normalised = xml.replace(/\r\n?/g, '\n')
  return new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '',
    processEntities: false,
    trimValues: false,
    parseTagValue: false,
    parseAttributeValue: false,
    attributeValueProcessor: (_, v) => decodeRefs(v.replace(/[\t\n]/g, ' ')),
    tagValueProcessor: (_, v) => decodeRefs(v),
  }).parse(normalised)
}

// ---------------------------------------------------------------------------------------------

/** Every character XML 1.0 forbids, by class; each must come out as U+FFFD. */
const FORBIDDEN: [string, string][] = [
  ['NUL', '\u0000'],
  ['C0 controls', '\u0001\u0008\u000B\u000C\u000E\u001B\u001F'],
  ['U+FFFE and U+FFFF', '\uFFFE\uFFFF'],
  ['an unpaired high surrogate', 'x\uD800y'],
  ['an unpaired low surrogate', 'x\uDC00y'],
  ['a reversed surrogate pair', '\uDC00\uD800'],
]
/** Legal text that must come back exactly, whitespace included. */
const LEGAL: [string, string][] = [
  ['emoji', 'ship it 🚀👩🏽‍💻'],
  ['CJK', '构建 ビルド 빌드'],
  ['quotes and apostrophes', `"double" 'single' «guillemets»`],
  ['markup characters', 'a & b <c> &amp; &#1; ]]>'],
  ['tab, LF and CR', 'col1\tcol2\nline2\r\nline3\rend'],
  ['C1 controls, NEL, LS and U+FFFD', '\u0080\u009F\u0085\u2028\uFFFD'],
]
const expected = (v: string) =>
  v.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDFFF]/gu, '\uFFFD')
const hasUnpaired = (v: string) => /[\uD800-\uDFFF]/u.test(v)
/**
 * What a stored field reads back as: SQLite keeps an unpaired surrogate as its three (invalid)
 * UTF-8 bytes and reads each back as U+FFFD, so for those a run of U+FFFD counts as one.
 */
const stored = (v: string, wrote: string) => (hasUnpaired(wrote) ? v.replace(/\uFFFD+/g, '\uFFFD') : v)

describe('XML feeds carry any text as legal XML', () => {
  const cases = [...FORBIDDEN, ...LEGAL].map(([what, v], i) => ({ what, v, project: `xml-${i}/${v}` }))

  beforeAll(async () => {
    for (const [i, c] of cases.entries()) {
      await hook({
        id: `xml-${i}`,
        project: c.project,
        pipeline: `pipe ${c.v}`,
        branch: `br ${c.v}`,
        status: 'success',
        number: 7,
        actor: c.v,
        commit: { sha: 'abc123', subject: c.v, author: c.v },
        url: `https://ci.example/${c.v}`,
      })
    }
  })

  it('reads the strict XML reader as rejecting what XML forbids (so the next tests can fail)', () => {
    for (const [what, v] of FORBIDDEN) expect(() => strictXml(`<a b="${v}"/>`), what).toThrow(/not XML/)
    expect(() => strictXml('<a b="&#1;"/>')).toThrow(/not XML/)
    expect(() => strictXml('<a b="x & y"/>')).toThrow(/not XML/)
    expect(strictXml('<a b="x\ty&#9;z"/>').a.b).toBe('x y\tz')
  })

  it.each(cases)('cctray.xml stays a strict XML document with $what in every field', async (c) => {
    const res = await fetch(`${s.url}/cctray.xml`)
    const projects = [strictXml(await res.text()).Projects.Project].flat()
    const p = projects.find((p: any) => p.name.startsWith(`xml-${cases.indexOf(c)}/`))
    expect(p, c.what).toBeDefined()
    expect(stored(p.name, c.v)).toBe(stored(expected(`${c.project} :: pipe ${c.v} :: br ${c.v}`), c.v))
    expect(stored(p.webUrl, c.v)).toBe(stored(expected(`https://ci.example/${c.v}`), c.v))
    expect(p.lastBuildStatus).toBe('Success')
    expect(p.lastBuildLabel).toBe('7')
  })

  it.each(cases)('badge.svg stays a strict XML document with $what in the label', async (c) => {
    const q = new URLSearchParams({ project: 'acme/badge-xml', label: c.v.slice(0, 60) })
    // Unpaired surrogates have no UTF-8 form; a URL can only carry their (invalid) bytes.
    const query = hasUnpaired(c.v) ? `project=acme/badge-xml&label=x%ED%A0%80y%ED%B0%80` : q.toString()
    const res = await fetch(`${s.url}/badge.svg?${query}`)
    expect(res.status).toBe(200)
    const svg = strictXml(await res.text()).svg
    const label = svg.title.split(': ')[0]
    if (!hasUnpaired(c.v)) expect(label).toBe(expected(c.v.slice(0, 60)))
    expect(svg['aria-label']).toBe(`${label}: unknown`)
    expect(svg.g.text[0]['#text']).toBe(label)
  })

  it('escapes any string as XML text and attribute that reads back with only forbidden characters replaced', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (v) => {
        const doc = strictXml(`<a b="${xmlEscape(v)}">${xmlEscape(v)}</a>`)
        expect(doc.a.b).toBe(expected(v))
        expect(doc.a['#text'] ?? '').toBe(expected(v))
      }),
      { numRuns: 500 }
    )
  })
})

describe('badges', () => {
  let n = 0
  const build = (project: string, pipeline: string, branch: string | undefined, status: 'success' | 'failure') =>
    hook({ id: `badge-${++n}`, project, pipeline, ...(branch === undefined ? {} : { branch }), status })
  const svgState = async (q: string) => {
    const res = await fetch(`${s.url}/badge.svg?${q}`)
    expect(res.status).toBe(200)
    return strictXml(await res.text()).svg.title.split(': ')[1]
  }
  const jsonState = async (q: string) => (await (await fetch(`${s.url}/badge.json?${q}`)).json()).message

  beforeAll(async () => {
    await build('acme/pr', 'ci', 'main', 'success')
    await build('acme/pr', 'ci', 'feature/x', 'failure')
    await build('acme/legacy', 'ci', 'master', 'success')
    await build('acme/legacy', 'ci', 'pr-12', 'failure')
    await build('acme/flow', 'ci', 'main', 'success')
    await build('acme/flow', 'ci', 'develop', 'failure')
    await build('acme/many', 'ci', 'main', 'success')
    await build('acme/many', 'deploy', 'main', 'failure')
    await build('acme/many', 'lint', 'feature/y', 'failure')
    await build('acme/branchless', 'job', undefined, 'success')
    await build('acme/branchless', 'job', 'feature/z', 'failure')
    await build('acme/prs-only', 'ci', 'feature/w', 'failure')
  })

  it.each([
    ['a failing pull-request branch beside a green main', 'acme/pr', 'passing'],
    ['a failing branch beside a green master', 'acme/legacy', 'passing'],
    ['main preferred over develop', 'acme/flow', 'passing'],
    ['a red default branch of one of several pipelines', 'acme/many', 'failing'],
    ['a branchless pipeline as its own default', 'acme/branchless', 'passing'],
    ['no default branch built yet', 'acme/prs-only', 'unknown'],
  ])('shows the default branch of each pipeline without ?branch: %s', async (_, project, state) => {
    expect(await svgState(`project=${project}`)).toBe(state)
    expect(await jsonState(`project=${project}`)).toBe(state)
  })

  it('shows the branch asked for with ?branch', async () => {
    expect(await svgState('project=acme/pr&branch=feature/x')).toBe('failing')
    expect(await jsonState('project=acme/pr&branch=feature/x')).toBe('failing')
    expect(await jsonState('project=acme/flow&branch=develop')).toBe('failing')
    expect(await jsonState('project=acme/many&pipeline=ci')).toBe('passing')
  })

  it.each([
    ['no project', 'branch=main', /project/],
    ['a misspelt filter', 'project=acme/pr&brnach=main', /brnach/],
    ['an unknown provider', 'project=acme/pr&provider=travis', /provider/],
    ['a label over 60 characters', `project=acme/pr&label=${'x'.repeat(61)}`, /label/],
    ['a project over 300 characters', `project=${'p'.repeat(301)}`, /project/],
  ])('answers badge.json with %s as an error badge shields renders', async (_, q, says) => {
    const res = await fetch(`${s.url}/badge.json?${q}`)
    // shields only reads a 200's body; anything else shows its own "inaccessible".
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/application\/json/)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const body = await res.json()
    expect(body).toEqual({
      schemaVersion: 1,
      label: expect.any(String),
      message: expect.stringMatching(says),
      isError: true,
      color: 'lightgrey',
    })
    expect(body.message.length).toBeGreaterThan(0)
  })

  it('answers badge.svg with a bad query as 400 saying why', async () => {
    const res = await fetch(`${s.url}/badge.svg?project=acme/pr&brnach=main`)
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/brnach/) })
  })
})
