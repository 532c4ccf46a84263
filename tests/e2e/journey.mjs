// A wronged wallet user's whole journey on a phone inside WeChat's in-app browser, in Debian's
// Chromium: search, open the group, register, verify through the emailed link, land back in
// the join flow, sign, upload a screenshot, log a call, see the case in My account, choose a
// weekly digest, and unsubscribe from a digest's link. It runs twice: with JavaScript and
// without. The JavaScript run also checks every page of the participant's side with axe-core
// (no serious or critical violation), for horizontal scrolling at 360 px, and writes
// screenshots at 390×844 and 1280×800 to SHOTS_DIR.
//
// Run by tests/api/browser.rs, which starts the server and answers this script's questions
// on stdin: it prints `ASK verify <email>` (the link of the verification email) and
// `ASK digest <email>` (the unsubscribe link of the next weekly digest). Exits non-zero on
// failure.
import { rmSync } from 'node:fs';
import { ask, audit, check, go, launch, report } from './lib.mjs';

const { BASE_URL, GROUP_SLUG, GROUP_TITLE, PROVIDER_SLUG, SHOTS_DIR } = process.env;
const PASSWORD = 'a long enough password';
for (const old of ['failed-js.png', 'failed-nojs.png']) rmSync(`${SHOTS_DIR}/${old}`, { force: true });
// A 4×4 PNG, as a phone screenshot would be (smaller).
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAAEElEQVR4nGM4oSEHRwzEcQDBoxDhn39TFQAAAABJRU5ErkJggg==',
  'base64',
);
const WECHAT_UA = 'Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) '
  + 'Chrome/120.0 Mobile Safari/537.36 MicroMessenger/8.0.47.2560(0x28002F35) NetType/WIFI Language/zh_CN';

async function journey(browser, js) {
  const tag = js ? 'with JavaScript' : 'without JavaScript';
  const email = js ? 'newcomer.js@example.com' : 'newcomer.nojs@example.com';
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    locale: 'zh-CN',
    userAgent: WECHAT_UA,
    javaScriptEnabled: js,
  });
  const page = await context.newPage();
  const shot = js ? (name) => audit(page, name) : async () => {};
  try {
    // Find the complaint from the home page, in the words of a wronged user.
    await page.goto(`${BASE_URL}/`);
    check(`${tag}: home is zh-CN`, (await page.getAttribute('html', 'lang')) === 'zh-CN');
    await shot('home');
    const inputSize = await page.$eval('input[type=search]', (el) => parseFloat(getComputedStyle(el).fontSize));
    check(`${tag}: the search input is at least 16 px (no zoom on focus)`, inputSize >= 16, `${inputSize}px`);
    await page.fill('input[type=search]', '退款未到账');
    await go(page, 'form.search button[type=submit]');
    await shot('search-results');
    const first = page.locator('main a[href^="/groups/"]').first();
    check(`${tag}: 退款未到账 finds the group first`, (await first.getAttribute('href')) === `/groups/${GROUP_SLUG}`,
      await first.getAttribute('href'));
    await Promise.all([page.waitForNavigation(), first.tap()]);
    check(`${tag}: the group page shows its title`, (await page.textContent('h1'))?.includes(GROUP_TITLE));
    await shot('group');

    // Join: an account first.
    await go(page, `a[href="/groups/${GROUP_SLUG}/join"]`);
    check(`${tag}: a newcomer is asked to register`, new URL(page.url()).pathname === '/register', page.url());
    await shot('register');
    await page.fill('#email', email);
    await page.fill('#display_name', js ? '小林' : '小周');
    await page.fill('#password', PASSWORD);
    await go(page, 'main button[type=submit]');
    check(`${tag}: told to check the mailbox`, (await page.textContent('main'))?.includes('验证'));
    await shot('check-mail');

    // The link in the email, opened in the same browser: verify, signed in, back in the flow.
    await page.goto(await ask('verify', email));
    await shot('verify-email');
    await go(page, 'main button[type=submit]');
    check(`${tag}: back in the join flow after verifying`,
      new URL(page.url()).pathname === `/groups/${GROUP_SLUG}/join`, page.url());

    // Statement, amount, date, references, consents, typed-name signature.
    await shot('join-statement');
    await page.fill('#statement', '我在三月二日申请退款 268 元，客服承诺七个工作日到账，至今没有收到。');
    await page.fill('#amount', '268.00');
    await page.fill('#incident_date', '2026-03-02');
    await page.fill('#transaction_refs', '4200001234202603020001');
    await page.check('#consent_share_identity');
    await page.fill('#full_name', js ? '林晓' : '周舟');
    await page.check('#agree');
    await go(page, 'main form button[type=submit]');
    check(`${tag}: signed, on to the evidence step`,
      new URL(page.url()).pathname === `/groups/${GROUP_SLUG}/join/evidence`, page.url());
    await shot('join-evidence');

    // A screenshot as evidence (a progress bar with JavaScript, a plain upload without).
    await page.setInputFiles('input[type=file]', { name: '退款记录.png', mimeType: 'image/png', buffer: PNG });
    await go(page, 'form[enctype="multipart/form-data"] button[type=submit]');
    check(`${tag}: the screenshot is uploaded`, (await page.textContent('main'))?.includes('退款记录.png'),
      await page.textContent('main'));

    // A call to customer service.
    await page.selectOption('#contact-channel', 'hotline');
    await page.fill('#contact-date', '2026-03-05');
    await page.fill('#contact-summary', '打电话给客服，说还在处理中，让我继续等。');
    await go(page, 'form.contact button[type=submit]');
    check(`${tag}: the call is logged`, (await page.textContent('main'))?.includes('让我继续等'));

    await go(page, `a[href="/groups/${GROUP_SLUG}/join/done"]`);
    check(`${tag}: the confirmation shows the signed version`, (await page.textContent('main'))?.includes('SHA-256'));
    await shot('join-done');

    // My account shows the case.
    await page.goto(`${BASE_URL}/account`);
    check(`${tag}: my account lists the case`, (await page.textContent('main'))?.includes(GROUP_TITLE));
    await shot('account');
    await go(page, `main a[href="/account/groups/${GROUP_SLUG}"]`);
    check(`${tag}: my case shows the evidence`, (await page.textContent('main'))?.includes('退款记录.png'));
    await shot('account-case');

    // A weekly digest.
    await page.goto(`${BASE_URL}/account/notifications`);
    await shot('account-notifications');
    await page.check('input[type=radio][value=weekly]');
    await go(page, 'main form button[type=submit]');
    check(`${tag}: weekly digest chosen`, await page.isChecked('input[type=radio][value=weekly]'));

    // Later, from a digest's link: unsubscribe.
    await page.goto(await ask('digest', email));
    await shot('unsubscribe');
    await go(page, 'main button[type=submit]');
    check(`${tag}: unsubscribed`, (await page.textContent('main'))?.includes('已退订'));

    if (js) {
      // The other pages of the participant's side, as they are reached.
      for (const [name, path] of [
        ['account-evidence', '/account/evidence'],
        ['account-export', '/account/export'],
        ['account-delete', '/account/delete'],
        ['account-withdraw', `/account/groups/${GROUP_SLUG}/withdraw`],
        ['new-group', '/groups/new'],
        ['provider', `/providers/${PROVIDER_SLUG}`],
        ['no-results', '/groups?q=%E6%B2%A1%E6%9C%89%E8%BF%99%E7%A7%8D%E4%BA%8B'],
        ['not-found', '/groups/no-such-group'],
      ]) {
        await page.goto(`${BASE_URL}${path}`);
        await shot(name);
      }
      const anon = await context.browser().newContext({ viewport: { width: 390, height: 844 }, isMobile: true,
        hasTouch: true, locale: 'zh-CN', userAgent: WECHAT_UA });
      const other = await anon.newPage();
      // What this participant typed appears on no public page.
      const personal = [email, '小林', '林晓', '我在三月二日申请退款', '268.00', '4200001234202603020001'];
      for (const path of ['/', '/groups?q=%E9%80%80%E6%AC%BE', `/groups/${GROUP_SLUG}`, `/providers/${PROVIDER_SLUG}`]) {
        await other.goto(`${BASE_URL}${path}`);
        const html = await other.content();
        const leaked = personal.filter((p) => html.includes(p));
        check(`no personal data on the public page ${path}`, leaked.length === 0, leaked.join(', '));
      }
      for (const [name, path] of [
        ['login', '/login'],
        ['forgot-password', '/forgot-password'],
        ['reset-password', '/reset-password?token=expired-or-wrong'],
        ['dossier-verify', '/verify'],
      ]) {
        await other.goto(`${BASE_URL}${path}`);
        await audit(other, name);
      }
      await anon.close();
      // English on request, remembered by a cookie.
      await page.goto(`${BASE_URL}/`);
      await go(page, 'header a[href^="?lang="]');
      check('English on request', (await page.getAttribute('html', 'lang')) === 'en');
      await page.goto(`${BASE_URL}/groups/${GROUP_SLUG}`);
      check('English remembered', (await page.getAttribute('html', 'lang')) === 'en');
      await shot('group-en');
    }
  } catch (e) {
    check(`${tag}: journey finished`, false, `${e.message} (at ${page.url()})`);
    await page.screenshot({ path: `${SHOTS_DIR}/failed-${js ? 'js' : 'nojs'}.png`, fullPage: true }).catch(() => {});
  } finally {
    await context.close();
  }
}

const browser = await launch();
try {
  await journey(browser, true);
  await journey(browser, false);
} finally {
  await browser.close();
}

report();
