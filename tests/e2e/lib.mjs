// What both browser journeys share: the checks and their tally, the question protocol with the
// Rust test on stdin/stdout, the per-page audit (axe-core, weight, 360 px, tap targets,
// screenshots at 390×844 and 1280×800) and the browser.
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import readline from 'node:readline';
import { chromium } from 'playwright-core';

const { SHOTS_DIR } = process.env;
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export const failures = [];
let passed = 0;
export function check(name, ok, detail = '') {
  if (ok) passed += 1;
  else failures.push(`${name}${detail ? `: ${detail}` : ''}`);
  return ok;
}

const answers = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
export async function ask(...words) {
  console.log(`ASK ${words.join(' ')}`);
  const { value, done } = await answers.next();
  if (done) throw new Error(`no answer to ${words.join(' ')}`);
  return value.trim();
}

mkdirSync(SHOTS_DIR, { recursive: true });
const audited = new Set();

/** axe-core, the 360 px scroll check and the two screenshots of the page now shown. */
export async function audit(page, name) {
  if (audited.has(name)) return;
  audited.add(name);
  // Evaluated through the DevTools protocol, so the page's CSP (no inline script) allows it.
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => globalThis.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  check(`axe: no serious or critical violation on ${name}`, bad.length === 0,
    bad.map((v) => `${v.id} (${v.impact}) at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`).join('; '));
  const bytes = await page.evaluate(async () => {
    let n = new Blob([document.documentElement.outerHTML]).size;
    for (const el of document.querySelectorAll('link[rel=stylesheet], script[src]')) {
      n += (await (await fetch(el.href || el.src)).arrayBuffer()).byteLength;
    }
    return n;
  });
  check(`${name}: HTML+CSS+JS under 100 KB`, bytes < 100 * 1024, `${bytes} bytes`);
  await page.setViewportSize({ width: 360, height: 780 });
  const over = await page.evaluate(() => document.scrollingElement.scrollWidth - window.innerWidth);
  check(`${name} fits 360 px`, over <= 0, `${over}px too wide`);
  const small = await page.evaluate(() => [...document.querySelectorAll('a, button, input, select, textarea, summary')]
    .filter((el) => {
      const r = el.getBoundingClientRect();
      const s = getComputedStyle(el);
      // Links inside running text are exempt (WCAG 2.5.8 inline exception).
      const inline = el.tagName === 'A' && s.display === 'inline';
      const hidden = r.width === 0 || r.height === 0 || el.type === 'hidden';
      return !inline && !hidden && (el.type === 'checkbox' || el.type === 'radio' ? r.height < 24 : r.height < 44);
    })
    .map((el) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.name ? `[name=${el.name}]` : ''} ${Math.round(el.getBoundingClientRect().height)}px`));
  check(`${name}: tap targets at least 44 px high`, small.length === 0, small.join(', '));
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${SHOTS_DIR}/${name}-390x844.png`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.screenshot({ path: `${SHOTS_DIR}/${name}-1280x800.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
}

/** Taps (or, without a touch screen, clicks) `selector` and waits for the page it leads to. */
export async function go(page, selector, touch = true) {
  const target = page.locator(selector).first();
  await Promise.all([page.waitForNavigation(), touch ? target.tap() : target.click()]);
}

/** Debian's Chromium, headless. */
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--disable-quic', '--no-first-run'],
  });
}

/** Prints the tally (the Rust test reads `N passed, 0 failed`) and exits. */
export function report() {
  console.log(`${passed} passed, ${failures.length} failed`);
  for (const f of failures) console.log(`FAILED ${f}`);
  process.exit(failures.length ? 1 : 0);
}
