// An organiser's journey in Debian's Chromium, once on a desktop (1280×800) and once on a phone
// (390×844): sign in, start a group (the similar open group is offered first), reach the
// organiser's desk from the group page, approve a newcomer on the roster and read their file
// (evidence download, contact log), edit the joint
// statement so that the participant is asked by email to re-sign, and compile a signed dossier,
// download it and check it on the public verify page. The phone run checks every
// page of the desk with axe-core, for horizontal scrolling at 360 px, tap targets and weight, and
// writes screenshots at 390×844 and 1280×800 to SHOTS_DIR.
//
// Run by tests/api/browser.rs, which starts the server and answers on stdin: `ASK join <slug>
// <email>` (a verified newcomer joins the group through the API; the answer is their name) and
// `ASK mail <email> <subject words>` (waits for that email; the answer is its subject).
import { rmSync } from 'node:fs';
import { ask, audit, check, go, launch, report } from './lib.mjs';

const { BASE_URL, SIMILAR_SLUG, SHOTS_DIR, PASSWORD } = process.env;
const STATEMENT = '我们是快付钱包的用户，申请的退款超过三十天仍未到账，客服反复推诿。我们要求快付钱包在十五日内退还全部款项并书面说明原因。';
for (const old of ['failed-desktop.png', 'failed-phone.png']) rmSync(`${SHOTS_DIR}/${old}`, { force: true });

async function run(browser, phone) {
  const tag = phone ? 'phone' : 'desktop';
  const email = phone ? 'organiser.phone@example.com' : 'organiser.desktop@example.com';
  const context = await browser.newContext(phone
    ? { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'zh-CN' }
    : { viewport: { width: 1280, height: 800 }, locale: 'zh-CN' });
  const page = await context.newPage();
  const shot = phone ? (name) => audit(page, name) : async () => {};
  const press = async (button) => {
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: button }).first().click()]);
  };
  try {
    await page.goto(`${BASE_URL}/login`);
    await page.fill('#email', email);
    await page.fill('#password', PASSWORD);
    await go(page, 'main button[type=submit]', phone);
    check(`${tag}: signed in`, new URL(page.url()).pathname !== '/login', page.url());

    // Start a group; the open group about the same problem is offered first.
    await page.goto(`${BASE_URL}/groups/new`);
    await shot('organiser-new-group');
    await page.selectOption('#provider', { label: '快付钱包' });
    await page.selectOption('#category', 'refund_delay');
    const title = phone ? '快付钱包退款超过一个月没到账（手机）' : '快付钱包退款超过一个月没到账';
    await page.fill('#title', title);
    await page.fill('#summary', '三月起申请的退款一直没有到账，客服只让继续等待。');
    await page.check('input[name=demands][value=refund]');
    await page.fill('#joint_statement', STATEMENT);
    await page.check('#requires_moderation');
    await press('继续');
    const offered = await page.locator(`a[href="/groups/${SIMILAR_SLUG}"]`).count();
    check(`${tag}: the similar open group is offered first`, offered > 0, await page.textContent('main'));
    await shot('organiser-new-group-similar');
    check(`${tag}: "review each join" is still ticked`, await page.isChecked('#requires_moderation'));
    await press('仍然发起新的联合投诉');
    const slug = new URL(page.url()).pathname.replace(/^\/groups\//, '');
    check(`${tag}: the new group's page`, (await page.textContent('h1'))?.includes(title), page.url());

    // The desk, from the group page.
    await go(page, `a[href="/groups/${slug}/manage"]`, phone);
    check(`${tag}: the dashboard`, (await page.textContent('h1'))?.includes('组织者工作台'));
    await shot('organiser-dashboard');

    // A newcomer asks to join; the organiser approves them on the roster.
    const newcomer = phone ? 'newcomer.phone@example.com' : 'newcomer.desktop@example.com';
    const name = await ask('join', slug, newcomer);
    await page.goto(`${BASE_URL}/groups/${slug}/manage/roster?status=pending`);
    check(`${tag}: the newcomer waits for review`, (await page.textContent('main'))?.includes(name), name);
    await shot('organiser-roster');
    await press('通过');
    check(`${tag}: approved`, (await page.textContent('main'))?.includes('已通过该参与者'));
    await ask('mail', newcomer, '已通过');
    // Their file, from the roster: what they signed, their evidence (downloaded) and their calls.
    await page.goto(`${BASE_URL}/groups/${slug}/manage/roster`);
    await go(page, `a.file-link:has-text("${name}")`, phone);
    const file = await page.textContent('main');
    check(`${tag}: the newcomer's file`, file?.includes('客服聊天.txt') && file?.includes('CS-2048')
      && file?.includes('客服承诺三天内回电'), file);
    await shot('organiser-participant');
    const [evidence] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: /下载/ }).first().click(),
    ]);
    check(`${tag}: their evidence downloads`, evidence.suggestedFilename() === '客服聊天.txt', evidence.suggestedFilename());
    await page.goto(`${BASE_URL}/groups/${slug}/manage`);
    check(`${tag}: one active participant on the dashboard`,
      (await page.textContent('#figure-active'))?.trim() === '1', await page.textContent('#figure-active'));

    // A new version of the statement: the participant is asked to re-sign.
    await page.goto(`${BASE_URL}/groups/${slug}/manage/statement`);
    await shot('organiser-statement');
    await page.fill('#joint_statement', `${STATEMENT}如逾期未处理，我们将向消费者协会和监管部门投诉。`);
    await press('保存联合声明');
    check(`${tag}: version 2 saved`, (await page.textContent('main'))?.includes('0 位已签署第 2 版'),
      await page.textContent('main'));
    check(`${tag}: the participant is asked to re-sign`,
      (await ask('mail', newcomer, '请重新确认')).includes('请重新确认'));

    // The provider answers: posted on the timeline, its claim shown beside confirmations.
    await page.goto(`${BASE_URL}/groups/${slug}/manage/updates`);
    await shot('organiser-timeline');
    await page.selectOption('#update-new-kind', 'response');
    await page.selectOption('#update-new-response_class', 'in_progress');
    await page.fill('#update-new-title', '服务商回复：正在核实退款');
    await page.fill('#update-new-body', '客服称已提交财务核实，七个工作日内答复。');
    await press('发布更新');
    check(`${tag}: the provider's response is posted`,
      (await page.textContent('#provider-claim'))?.includes('服务商回复：正在核实退款'),
      await page.textContent('main'));

    // A submission to the provider, whose clock becomes overdue when the test clock moves.
    await page.goto(`${BASE_URL}/groups/${slug}/manage/submissions`);
    await page.selectOption('#record-channel', 'provider');
    await page.fill('#record-recipient', '快付钱包客服投诉邮箱');
    await press('记录提交');
    check(`${tag}: the submission is recorded`,
      (await page.textContent('main'))?.includes('已记录提交'), await page.textContent('main'));
    await shot('organiser-submissions');
    await ask('advance', '16');
    await page.goto(`${BASE_URL}/groups/${slug}/manage/submissions`);
    check(`${tag}: the clock is overdue after 16 days`,
      (await page.locator('.submissions .badge-overdue').count()) > 0, await page.textContent('main'));
    check(`${tag}: escalation to the consumer association is offered`,
      (await page.locator('a[href*="channel=consumer_association"]').count()) > 0);
    await shot('organiser-submissions-overdue');
    await page.goto(`${BASE_URL}/groups/${slug}/manage/team`);
    await shot('organiser-team');

    // A signed dossier: compile, wait for the background build, download the bundle and check
    // it on the public verify page.
    await page.goto(`${BASE_URL}/groups/${slug}/manage/dossiers`);
    await shot('organiser-dossiers');
    await page.locator('input[name=tier]').first().check();
    await press('生成材料');
    let ready = false;
    for (let i = 0; i < 40 && !ready; i += 1) {
      await page.goto(`${BASE_URL}/groups/${slug}/manage/dossiers`);
      ready = (await page.getByRole('link', { name: '下载材料包' }).count()) > 0;
      if (!ready) await page.waitForTimeout(500);
    }
    check(`${tag}: the dossier is built`, ready, await page.textContent('main'));
    await shot('organiser-dossiers-ready');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: '下载材料包' }).first().click(),
    ]);
    const bundle = await download.path();
    await page.goto(`${BASE_URL}/verify`);
    await page.setInputFiles('#bundle', bundle);
    await press('核验');
    check(`${tag}: the verify page accepts the downloaded bundle`,
      (await page.textContent('main'))?.includes('核验通过'), await page.textContent('main'));

    // An administrator merges a duplicate provider into the one that stays.
    const [adminEmail, dup, keep] = (await ask('admin', tag)).split(' ');
    await context.clearCookies();
    await page.goto(`${BASE_URL}/login`);
    await page.fill('#email', adminEmail);
    await page.fill('#password', PASSWORD);
    await go(page, 'main button[type=submit]', phone);
    await page.goto(`${BASE_URL}/admin`);
    await shot('admin-index');
    await page.goto(`${BASE_URL}/admin/providers`);
    check(`${tag}: the duplicate is listed for review`,
      (await page.locator(`a[href="/admin/providers/${dup}"]`).count()) > 0, await page.textContent('main'));
    await shot('admin-providers');
    await page.goto(`${BASE_URL}/admin/providers/${dup}`);
    await shot('admin-provider');
    await page.fill('#into', keep);
    await press('合并');
    check(`${tag}: merged into the provider that stays`,
      new URL(page.url()).pathname === `/admin/providers/${keep}`, page.url());
    await page.goto(`${BASE_URL}/providers/${dup}`);
    check(`${tag}: the duplicate's address leads to the one that stays`,
      new URL(page.url()).pathname === `/providers/${keep}`, page.url());
    for (const part of ['users', 'groups', 'mail']) {
      await page.goto(`${BASE_URL}/admin/${part}`);
      await shot(`admin-${part}`);
    }
  } catch (e) {
    check(`${tag}: journey finished`, false, `${e.message} (at ${page.url()})`);
    await page.screenshot({ path: `${SHOTS_DIR}/failed-${tag}.png`, fullPage: true }).catch(() => {});
  } finally {
    await context.close();
  }
}

const browser = await launch();
try {
  await run(browser, false);
  await run(browser, true);
} finally {
  await browser.close();
}

report();
