import { describe, expect, it } from 'vitest'
import { credentialFrom, safeEqual, secretIn } from './auth.ts'

const basic = (userPassword: string) => `Basic ${Buffer.from(userPassword).toString('base64')}`

describe('safeEqual', () => {
  it('compares content, whatever the lengths', () => {
    expect(safeEqual('token', 'token')).toBe(true)
    expect(safeEqual('token', 'token2')).toBe(false)
    expect(safeEqual('', 'token')).toBe(false)
    expect(safeEqual(Buffer.from('abc'), 'abc')).toBe(true)
  })
})

describe('secretIn', () => {
  it('finds the given secret in a rotation list, and nothing in an empty one', () => {
    expect(secretIn('new', ['old', 'new'])).toBe(true)
    expect(secretIn('old', ['old', 'new'])).toBe(true)
    expect(secretIn('other', ['old', 'new'])).toBe(false)
    expect(secretIn('', [])).toBe(false)
  })

  it('compares against what compute makes of each secret, trying every one', () => {
    const seen: string[] = []
    const sig = (s: string) => {
      seen.push(s)
      return `sig(${s})`
    }
    expect(secretIn('sig(a)', ['a', 'b', 'c'], sig)).toBe(true)
    expect(seen).toEqual(['a', 'b', 'c'])
    expect(secretIn('a', ['a'], sig)).toBe(false)
  })
})

describe('credentialFrom', () => {
  it.each([
    ['Bearer tok-123', 'tok-123'],
    ['bearer tok-123', 'tok-123'],
    ['Bearer   tok-123  ', 'tok-123'],
    [basic('ccmenu:tok-123'), 'tok-123'],
    [basic('user:pass:with:colons'), 'pass:with:colons'],
    // No colon: the whole decoded value is the token.
    [basic('tok-123'), 'tok-123'],
  ])('reads %j as %j', (header, token) => {
    expect(credentialFrom(header)).toBe(token)
  })

  it.each([
    [null],
    [undefined],
    [''],
    ['Bearer'],
    ['Bearer two words'],
    ['Token tok-123'],
    [basic('user:')],
    ['Basic not*base64'],
  ])('reads no credential from %j', (header) => {
    expect(credentialFrom(header)).toBeNull()
  })
})
