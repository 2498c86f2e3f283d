// Drives Debian's headless Chromium (playwright-core, pinned in
// package-lock.json) through a real coordinator's dashboard, as a user
// would, and prints ONE line of JSON on stdout with everything it read.
// It asserts nothing itself (tests/dashboard_browser_test.cc compares what
// it read with the CLI); it fails (exit 1, JSON with "error") only when the
// page cannot be driven at all: a selector of the contract
// (docs/dashboard.md, notes "THE DASHBOARD CONTRACT") never appears.
//
//   node dashboard.mjs --url http://127.0.0.1:PORT --token-file FILE
//       --job N --cancel-job M [--adaptive-job K] [--out DIR]...
//       [--timeout-ms MS]
//
// The token is read from FILE and typed into the login form: it never goes
// in a URL or on a command line. Screenshots (login, overview, job page)
// go to every --out DIR. Chromium is /usr/bin/chromium unless
// $SHARDEX_CHROMIUM names another.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

function parseArgs(argv) {
  const args = { out: [], timeoutMs: 120000 };
  for (let i = 0; i < argv.length; i += 2) {
    const [name, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${name} needs a value`);
    switch (name) {
      case '--url': args.url = value.replace(/\/$/, ''); break;
      case '--token-file': args.tokenFile = value; break;
      case '--job': args.job = value; break;
      case '--cancel-job': args.cancelJob = value; break;
      case '--adaptive-job': args.adaptiveJob = value; break;
      case '--out': args.out.push(value); break;
      case '--timeout-ms': args.timeoutMs = Number(value); break;
      default: throw new Error(`unknown argument ${name}`);
    }
  }
  for (const k of ['url', 'tokenFile', 'job', 'cancelJob']) {
    if (!args[k]) throw new Error(`missing --${k.replace(/[A-Z]/g, c => '-' + c.toLowerCase())}`);
  }
  return args;
}

const args = parseArgs(process.argv.slice(2));
const token = readFileSync(args.tokenFile, 'utf8').trim();
const report = { steps: [], screenshots: [], pageErrors: [], consoleErrors: [] };
let browser = null;

// Prints the report and exits; a failure names the step it was in.
async function finish(error) {
  if (error) report.error = `${report.steps.at(-1) ?? 'start'}: ${error.stack ?? error}`;
  if (browser) {
    await Promise.race([browser.close().catch(() => {}),
                        new Promise(r => setTimeout(r, 5000))]);
  }
  process.stdout.write(JSON.stringify(report) + '\n', () => process.exit(error ? 1 : 0));
}

// Our own deadline: never hang the test (which also kills us and every
// process carrying its environment tag after its own, longer one).
const deadline = setTimeout(() => finish(new Error(`timed out after ${args.timeoutMs} ms`)),
                            args.timeoutMs);

function step(name) { report.steps.push(name); }

async function screenshot(page, name) {
  for (const dir of args.out) {
    const path = join(dir, name);
    await page.screenshot({ path, fullPage: true });
    report.screenshots.push(path);
  }
}

const polls = page => page.evaluate(() => Number(document.body.dataset.polls ?? 0));

// Waits until the page has completed `n` more polls than now: what it shows
// is then fresh data, not the first paint.
async function waitForPolls(page, n) {
  const from = await polls(page);
  await page.waitForFunction(want => Number(document.body.dataset.polls ?? 0) >= want,
                             from + n, { timeout: 15000 });
  return polls(page);
}

// Waits up to `ms` for `selector`, without failing: what is missing is
// reported (and judged) by the C++ test.
async function softWait(page, selector, ms) {
  try { await page.waitForSelector(selector, { state: 'attached', timeout: ms }); }
  catch { /* judged by the caller */ }
}

function readOverview() {
  const text = (root, sel) => root.querySelector(sel)?.textContent.trim() ?? null;
  const num = (root, sel, prop) => {
    const el = root.querySelector(sel);
    return el ? Number(el[prop]) : null;
  };
  return {
    jobs: [...document.querySelectorAll('table#jobs tbody tr.job')].map(r => ({
      id: r.dataset.jobId,
      state: text(r, '.state'),
      value: num(r, 'progress.progress', 'value'),
      max: num(r, 'progress.progress', 'max'),
      done: text(r, '.done'),
      rate: text(r, '.rate'),
      eta: text(r, '.eta'),
      retries: text(r, '.retries'),
      errors: text(r, '.errors'),
      href: r.querySelector('a.job-link')?.getAttribute('href') ?? null,
    })),
    workers: [...document.querySelectorAll('table#workers tbody tr.worker')].map(r => ({
      id: r.dataset.workerId,
      host: text(r, '.host'),
      slots: text(r, '.slots'),
      cpu: num(r, 'meter.cpu', 'value'),
      mem: num(r, 'meter.mem', 'value'),
      state: text(r, '.state'),
    })),
    updated: text(document, '#updated'),
  };
}

function readJobPage() {
  const text = sel => document.querySelector(sel)?.textContent.trim() ?? null;
  const bar = document.querySelector('progress#job-progress');
  return {
    id: document.querySelector('#job')?.dataset.jobId ?? null,
    state: text('#job-state'),
    value: bar ? Number(bar.value) : null,
    max: bar ? Number(bar.max) : null,
    spec: text('#job-spec'),
    result: text('#job-result'),
    progressText: text('.progress-text'),
    cancelButton: document.querySelector('button#cancel') !== null,
    lanes: [...document.querySelectorAll('#task-stream .lane[data-worker-id][data-slot]')].map(l => ({
      worker: l.dataset.workerId, slot: l.dataset.slot,
    })),
    attempts: [...document.querySelectorAll('#task-stream .attempt')].map(a => ({
      shard: a.dataset.shard, attempt: a.dataset.attempt, outcome: a.dataset.outcome,
      speculative: a.classList.contains('speculative'),
    })),
    failed: [...document.querySelectorAll('table#failed-attempts tbody tr.failed-attempt')]
      .map(r => ({ text: r.textContent.trim(), stderr: r.querySelector('.stderr')?.textContent ?? null })),
  };
}

async function openJob(page, id) {
  await page.click(`table#jobs tr.job[data-job-id="${id}"] a.job-link`);
  await page.waitForSelector(`#job[data-job-id="${id}"]`, { timeout: 15000 });
  return waitForPolls(page, 2);
}

async function run() {
  step('launch');
  browser = await chromium.launch({
    executablePath: process.env.SHARDEX_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    // --no-sandbox: tests run as root; /dev/shm may be small in sandboxes.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  report.browser = browser.version();
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const urls = [];
  page.on('request', r => {
    urls.push(r.url());
    if (r.method() === 'POST' && r.url().endsWith(`/api/jobs/${args.cancelJob}/cancel`)) {
      report.cancelRequest = { url: r.url(), action: r.headers()['x-shardex-action'] ?? null };
    }
  });
  page.on('pageerror', e => report.pageErrors.push(String(e)));
  // Chromium asks for /favicon.ico by itself; the page does not use one.
  page.on('console', m => {
    const where = m.location().url ?? '';
    if (m.type() === 'error' && !where.endsWith('/favicon.ico')) {
      report.consoleErrors.push(`${m.text()} (${where})`);
    }
  });

  step('open / without a session');
  const first = await page.goto(args.url + '/');
  const hop = first.request().redirectedFrom();
  report.login = {
    landedOn: new URL(page.url()).pathname,
    redirectStatus: hop ? (await hop.response())?.status() ?? null : null,
  };
  await page.waitForSelector('form#login input[name=token][type=password]', { timeout: 10000 });
  await screenshot(page, 'dashboard-login.png');

  step('log in with a wrong token');
  await page.fill('form#login input[name=token]', 'wrong-' + token.slice(0, 8));
  const [wrong] = await Promise.all([
    page.waitForResponse(r => r.request().method() === 'POST' && new URL(r.url()).pathname === '/login'),
    page.click('form#login button[type=submit]'),
  ]);
  report.login.wrongStatus = wrong.status();
  // What the browser itself sent with the form (the server may check it).
  report.login.postOrigin = (await wrong.request().allHeaders()).origin ?? null;
  try {
    await page.waitForSelector('.error', { timeout: 10000 });
  } catch (e) {
    throw new Error(`no .error after POST /login with a wrong token: it answered ` +
                    `${wrong.status()} (the browser sent Origin: ${report.login.postOrigin})\n${e}`);
  }
  report.login.wrongError = (await page.textContent('.error')).trim();
  // Console noise from the 401 itself is not the page's fault.
  report.consoleErrors.length = 0;

  step('log in with the token');
  await page.fill('form#login input[name=token]', token);
  const [right] = await Promise.all([
    page.waitForResponse(r => r.request().method() === 'POST' && new URL(r.url()).pathname === '/login'),
    page.click('form#login button[type=submit]'),
  ]);
  report.login.rightStatus = right.status();
  await page.waitForURL(u => u.pathname === '/', { timeout: 10000 });
  report.login.afterPath = new URL(page.url()).pathname;
  report.login.documentCookie = await page.evaluate(() => document.cookie);
  const cookie = (await context.cookies()).find(c => c.name === 'shardex_session');
  report.login.cookie = cookie ? {
    httpOnly: cookie.httpOnly, sameSite: cookie.sameSite, path: cookie.path,
    holdsToken: cookie.value.includes(token),
  } : null;

  step('overview');
  await page.waitForSelector(`table#jobs tr.job[data-job-id="${args.job}"]`, { timeout: 15000 });
  await page.waitForSelector('table#workers tr.worker', { timeout: 15000 });
  const overviewPolls = await waitForPolls(page, 2);
  report.overview = { polls: overviewPolls, ...(await page.evaluate(readOverview)) };
  await screenshot(page, 'dashboard-overview.png');

  step(`job page #/job/${args.job}`);
  report.job = { polls: await openJob(page, args.job) };
  report.job.url = page.url();
  // The task stream and the failed attempts come from the shard log.
  await softWait(page, '#task-stream .attempt', 5000);
  await softWait(page, 'table#failed-attempts tr.failed-attempt', 5000);
  report.job = { ...report.job, ...(await page.evaluate(readJobPage)) };
  await screenshot(page, 'dashboard-job.png');

  if (args.adaptiveJob) {
    // A job sized as it ran (no --shards): its bar counts range units.
    step(`adaptive job page #/job/${args.adaptiveJob}`);
    await page.goto(args.url + '/#/');
    await page.waitForSelector(`table#jobs tr.job[data-job-id="${args.adaptiveJob}"]`,
                               { timeout: 15000 });
    report.adaptive = { polls: await openJob(page, args.adaptiveJob) };
    report.adaptive = { ...report.adaptive, ...(await page.evaluate(readJobPage)) };
    await screenshot(page, 'dashboard-adaptive-job.png');
  }

  step(`cancel job ${args.cancelJob}`);
  await page.goto(args.url + '/#/');
  await page.waitForSelector(`table#jobs tr.job[data-job-id="${args.cancelJob}"]`, { timeout: 15000 });
  await openJob(page, args.cancelJob);
  const cancel = { before: (await page.textContent('#job-state')).trim() };
  page.once('dialog', d => { cancel.dialog = { type: d.type(), message: d.message() }; d.accept(); });
  await page.click('button#cancel');
  await page.waitForFunction(() => /CANCELLED/.test(document.querySelector('#job-state')?.textContent ?? ''),
                             null, { timeout: 20000 });
  await waitForPolls(page, 1);
  cancel.after = (await page.textContent('#job-state')).trim();
  cancel.buttonAfter = (await page.$('button#cancel')) !== null;
  report.cancel = cancel;

  step('done');
  report.tokenInUrl = urls.some(u => u.includes(token) || u.includes(encodeURIComponent(token)));
  report.requests = urls.length;
}

run().then(() => { clearTimeout(deadline); return finish(null); },
           e => { clearTimeout(deadline); return finish(e); });
