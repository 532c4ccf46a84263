// Browser checks of the pages people reach from search and from emails, in Debian's Chromium
// emulating a phone and WeChat's in-app browser. Run by tests/api/browser.rs, which starts the
// server and passes BASE_URL, GROUP_SLUG, GROUP_TITLE and VERIFY_LINK. Exits non-zero on failure.
import { chromium } from 'playwright-core';

const { BASE_URL, GROUP_SLUG, GROUP_TITLE, VERIFY_LINK } = process.env;
const failures = [];
let passed = 0;
function check(name, ok, detail = '') {
  if (ok) passed += 1;
  else failures.push(`${name}${detail ? `: ${detail}` : ''}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--disable-quic', '--no-first-run'],
});
try {
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 3,
    isMobile: true,
    hasTouch: true,
    locale: 'zh-CN',
    userAgent: 'Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) '
      + 'Chrome/120.0 Mobile Safari/537.36 MicroMessenger/8.0.47.2560(0x28002F35) NetType/WIFI Language/zh_CN',
  });
  const page = await context.newPage();
  const overflow = () => page.evaluate(() => document.scrollingElement.scrollWidth - window.innerWidth);

  // Search from the home page and open the group with a tap.
  await page.goto(`${BASE_URL}/`);
  check('home is zh-CN by default', (await page.getAttribute('html', 'lang')) === 'zh-CN');
  const inputSize = await page.$eval('input[type=search]', (el) => parseFloat(getComputedStyle(el).fontSize));
  check('search input is at least 16px (no zoom on focus)', inputSize >= 16, `${inputSize}px`);
  await page.fill('input[type=search]', '退款');
  await Promise.all([page.waitForNavigation(), page.tap('button[type=submit]')]);
  const link = page.locator(`a[href="/groups/${GROUP_SLUG}"]`);
  check('search finds the group', (await link.count()) === 1);
  check('home fits the phone width', (await overflow()) <= 0, `${await overflow()}px too wide`);
  await Promise.all([page.waitForNavigation(), link.tap()]);
  check('group page shows its title', (await page.textContent('h1'))?.includes(GROUP_TITLE));
  check('group page shows the count', (await page.textContent('.count'))?.trim() === '1');
  check('group page fits the phone width', (await overflow()) <= 0, `${await overflow()}px too wide`);

  // The verification link from the email: a button, then the answer.
  await page.goto(VERIFY_LINK);
  await Promise.all([page.waitForNavigation(), page.tap('button[type=submit]')]);
  check('verification succeeds', (await page.textContent('.notice'))?.includes('邮箱已验证'));

  // Switching to English is remembered.
  await page.goto(`${BASE_URL}/`);
  await Promise.all([page.waitForNavigation(), page.tap('header a[href^="?lang="]')]);
  check('English on request', (await page.getAttribute('html', 'lang')) === 'en');
  await page.goto(`${BASE_URL}/groups/${GROUP_SLUG}`);
  check('English remembered by cookie', (await page.getAttribute('html', 'lang')) === 'en');
} finally {
  await browser.close();
}

console.log(`${passed} passed, ${failures.length} failed`);
for (const f of failures) console.log(`FAILED ${f}`);
process.exit(failures.length ? 1 : 0);
