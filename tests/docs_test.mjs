// The API reference page (make docs) in a real browser: Debian's Chromium driven by
// playwright-core. It must render every operation of docs/openapi.json, request nothing from
// any other origin, log no error (a Content-Security-Policy violation is one), and be usable at
// 375 px. Screenshots go to .local/docs/ for a person to look at.
//
//   node tests/docs_test.mjs          (make test runs it; CHROMIUM=... names another browser)

import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const browserPath = process.env.CHROMIUM || '/usr/bin/chromium'
if (!existsSync(browserPath)) {
  console.error(`error: no browser at ${browserPath}: scripts/bootstrap.sh installs Debian's chromium (as root), or set CHROMIUM`)
  process.exit(1)
}
const document = JSON.parse(readFileSync(join(root, 'docs', 'openapi.json'), 'utf8'))
const operations = Object.values(document.paths).flatMap((item) =>
  Object.entries(item).filter(([method]) => ['get', 'put', 'post', 'patch', 'delete'].includes(method)).map(([, op]) => op.operationId))
const shots = join(root, '.local', 'docs')
mkdirSync(shots, { recursive: true })

const server = spawn(join(root, '.venv', 'bin', 'python'), [join(root, 'local', 'serve_docs.py'), '--port', '0'], {
  stdio: ['ignore', 'pipe', 'ignore']
})
const url = await new Promise((resolve, reject) => {
  let seen = ''
  server.stdout.on('data', (chunk) => {
    seen += chunk
    const found = seen.match(/http:\/\/127\.0\.0\.1:\d+\//)
    if (found) resolve(found[0])
  })
  server.on('exit', (code) => reject(new Error(`serve_docs.py stopped (${code})`)))
})

const failures = []
const browser = await chromium.launch({
  executablePath: browserPath,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync']
})
try {
  for (const [name, viewport] of [['desktop', { width: 1280, height: 900 }], ['phone', { width: 375, height: 812 }]]) {
    const context = await browser.newContext({ viewport })
    const page = await context.newPage()
    // Every request for another origin must be stopped by the page's Content-Security-Policy
    // before it leaves the browser (Redoc's footer asks for its maker's logo); one that is not
    // stopped is a failure, and so is any error but the policy's report of a stopped one.
    const foreign = new Set()
    const blocked = new Set()
    const errors = []
    page.on('request', (request) => {
      const target = request.url()
      if (!target.startsWith(url) && !target.startsWith('blob:') && !target.startsWith('data:')) foreign.add(target)
    })
    page.on('console', (message) => {
      const text = message.text()
      const report = text.match(/^Loading the \w+ '([^']+)' violates the following Content Security Policy directive/)
      if (report) blocked.add(report[1])
      else if (message.type() === 'error') errors.push(text)
    })
    page.on('pageerror', (error) => errors.push(String(error)))
    const started = Date.now()
    await page.goto(url)
    const shown = await page
      .waitForFunction((count) => document.querySelectorAll('[data-section-id*="operation/"]').length >= count, operations.length, { timeout: 30000 })
      .then(() => true, () => false)
    const renderedIn = Date.now() - started
    const ids = await page.$$eval('[data-section-id*="operation/"]', (nodes) => nodes.map((n) => n.getAttribute('data-section-id').split('operation/').pop()))
    const missing = operations.filter((id) => !ids.includes(id))
    if (!shown || missing.length) failures.push(`${name}: operations not rendered: ${missing.join(', ') || '(timed out)'}`)
    const left = [...foreign].filter((target) => !blocked.has(target))
    if (left.length) failures.push(`${name}: requests to other origins not blocked: ${left.join(', ')}`)
    if (errors.length) failures.push(`${name}: errors in the page: ${errors.join(' | ')}`)
    // Usable at this width: the page does not scroll sideways.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
    if (overflow > 1) failures.push(`${name}: the page is ${overflow} px wider than the screen`)
    const title = await page.title()
    if (title !== 'Tenantry API') failures.push(`${name}: title ${JSON.stringify(title)}`)
    await page.screenshot({ path: join(shots, `api-${name}.png`) })
    console.log(`  ${name} (${viewport.width} px): ${new Set(ids).size} operations rendered in ${renderedIn} ms; ` +
      `${left.length} requests left this origin (${blocked.size} stopped by the policy: ${[...blocked].join(', ') || 'none'}); ${errors.length} errors`)
    await context.close()
  }
} finally {
  await browser.close()
  server.kill()
}
if (failures.length) {
  for (const failure of failures) console.error(`FAIL ${failure}`)
  process.exit(1)
}
console.log(`the API reference renders all ${operations.length} operations; screenshots in .local/docs/`)
