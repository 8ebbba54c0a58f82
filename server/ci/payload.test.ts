import { describe, expect, it } from 'vitest'
import { arr, branchOf, first, firstLine, idOf, int, lookup, obj, str, tagOf, urlPath } from './payload.ts'

describe('payload readers', () => {
  it('obj and arr read only their own JSON type', () => {
    expect(obj({ a: 1 })).toEqual({ a: 1 })
    for (const v of [null, undefined, [], 'x', 1]) expect(obj(v)).toBeUndefined()
    expect(arr([1, 2])).toEqual([1, 2])
    for (const v of [null, undefined, {}, 'x', 1]) expect(arr(v)).toEqual([])
  })

  it('str trims, cuts to the bound and reads blank or non-text as missing', () => {
    expect(str('  main  ')).toBe('main')
    expect(str('x'.repeat(500))).toHaveLength(300)
    expect(str('abcdef', 3)).toBe('abc')
    for (const v of ['', '   ', 42, null, undefined, {}, ['a']]) expect(str(v)).toBeNull()
  })

  it('int reads only non-negative safe integers', () => {
    expect(int(0)).toBe(0)
    expect(int(42)).toBe(42)
    for (const v of [-1, 1.5, NaN, Infinity, 2 ** 53, '7', null]) expect(int(v)).toBeNull()
  })

  it('idOf takes a number or a string id, as text cut to 200', () => {
    expect(idOf(123)).toBe('123')
    expect(idOf(' abc ')).toBe('abc')
    expect(idOf('i'.repeat(300))).toHaveLength(200)
    for (const v of [-1, 1.5, '', null, {}]) expect(idOf(v)).toBeNull()
  })

  it('firstLine keeps the first line of LF or CRLF text, cut to 1000', () => {
    expect(firstLine('  Fix it\r\n\r\nbody')).toBe('Fix it')
    expect(firstLine('Fix it\nbody')).toBe('Fix it')
    expect(firstLine('x'.repeat(2000))).toHaveLength(1000)
    expect(firstLine(7)).toBeNull()
  })

  it('first returns the first value that reads as text', () => {
    expect(first(3, null, 5, '  ', 'abcdef', 'z')).toBe('abc')
    expect(first(10, undefined, {})).toBeNull()
  })

  it('lookup finds own keys only, never inherited ones', () => {
    const table: Record<string, string> = { success: 'ok' }
    expect(lookup(table, 'success')).toBe('ok')
    for (const k of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      expect(lookup(table, k)).toBeUndefined()
    }
    for (const k of [null, undefined, 1, { success: 1 }]) expect(lookup(table, k)).toBeUndefined()
    // The key is used as given: trimming is the caller's choice (str() before lookup).
    expect(lookup(table, ' success')).toBeUndefined()
  })

  it('urlPath reads the path of an absolute URL only', () => {
    expect(urlPath('https://gitlab.com/group/project/')).toBe('/group/project/')
    for (const v of ['group/project', 'git@github.com:a/b.git', null, 3]) {
      expect(urlPath(v)).toBeNull()
    }
  })

  it('branchOf and tagOf strip their ref prefix and nothing else', () => {
    expect(branchOf('refs/heads/feature/x')).toBe('feature/x')
    expect(branchOf('refs/heads/')).toBe('')
    for (const r of ['refs/tags/v1', 'main', 'refs/pull/1/merge', null]) {
      expect(branchOf(r)).toBeNull()
    }
    expect(tagOf('refs/tags/v1.2.0')).toBe('v1.2.0')
    expect(tagOf(`refs/tags/${'t'.repeat(400)}`)).toHaveLength(300)
    for (const r of ['refs/tags/', 'refs/heads/main', 'v1', null]) expect(tagOf(r)).toBeNull()
  })
})
