import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../config.ts'
import { Sites } from './sites.ts'

const SITES = 'shop.example.com,docs.example.com'

describe('SITE_DEPLOYS', () => {
  it('maps each site to its deploy pipelines: project, optional pipeline and branch', () => {
    const c = loadConfig({
      SITES,
      SITE_DEPLOYS:
        'shop.example.com=acme/shop:Deploy to prod@main, Docs.example.com=acme/docs@release/1.0,shop.example.com=acme/cdn',
    })
    const sites = new Sites(c.SITES, true, c.SITE_DEPLOYS)
    expect(sites.deploysOf('shop.example.com')).toEqual([
      { project: 'acme/shop', pipeline: 'Deploy to prod', branch: 'main' },
      { project: 'acme/cdn', pipeline: null, branch: null },
    ])
    expect(sites.deploysOf('docs.example.com')).toEqual([
      { project: 'acme/docs', pipeline: null, branch: 'release/1.0' },
    ])
  })

  it('leaves a site without a mapping with no deploys', () => {
    const c = loadConfig({ SITES })
    expect(new Sites(c.SITES, true, c.SITE_DEPLOYS).deploysOf('shop.example.com')).toEqual([])
  })

  it.each([
    'shop.example.com',
    'shop.example.com=',
    'shop.example.com=acme/shop:',
    'shop.example.com=a:b:c',
    'https://shop.example.com=acme/shop',
  ])('refuses %j with one line naming the variable and the form', (v) => {
    expect(() => loadConfig({ SITES, SITE_DEPLOYS: v })).toThrow(ConfigError)
    expect(() => loadConfig({ SITES, SITE_DEPLOYS: v })).toThrow(
      new RegExp(
        `^Invalid SITE_DEPLOYS=${JSON.stringify(v).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: expected comma-separated site=project\\[:pipeline\\]\\[@branch\\]`
      )
    )
  })

  it('refuses a site that is not in SITES', () => {
    expect(() => loadConfig({ SITES, SITE_DEPLOYS: 'blog.example.com=acme/blog' })).toThrow(
      'Invalid SITE_DEPLOYS: blog.example.com is not in SITES (shop.example.com, docs.example.com)'
    )
  })
})
