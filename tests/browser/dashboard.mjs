// The dashboard in a real browser: starts the switchboard binary ($SWITCHBOARD_BIN) on a free
// loopback port with a temporary data directory and its own topology (topology.json, not the
// demo), opens GET / in Debian's headless Chromium through playwright-core, and checks what an
// operator sees and does: the page against the HTTP API, a flip through the page (plan first,
// nothing written until confirmed), the page following changes made elsewhere without a reload,
// a plan that would leave a role with no route, and a plan gone stale before its confirmation.
// Saves screenshots to $SB_SCREENSHOT (default: dashboard.png in the working directory) and, of
// a plan, to the same name with -plan.png.
// Prints TAP; the whole run is bounded by a 100 s watchdog.
//
// usage: SWITCHBOARD_BIN=build/server/switchboard node tests/browser/dashboard.mjs
import { chromium } from 'playwright-core';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { request as httpRequest, createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const bin = process.env.SWITCHBOARD_BIN;
const browserPath = process.env.CHROMIUM || '/usr/bin/chromium';
const shot = resolve(process.env.SB_SCREENSHOT || 'dashboard.png');
const topology = JSON.parse(readFileSync(join(here, 'topology.json'), 'utf8'));

let server, browser, base, token, page, serverLog = '';
let steps = 0;
const started = []; // every server, for the cleanup

// Every temporary file of this run, the servers' data directories and Chromium's and
// playwright's own files, goes into one directory. As in tests/harness.c, a shell in its own
// session removes it once this process has ended, however it ends: meson's timeout kills the
// whole process group, and gives it half a second after SIGTERM.
const work = mkdtempSync(join(tmpdir(), 'sb-browser-'));
process.env.TMPDIR = work;
const reaper = spawn('sh', ['-c', 'cat >/dev/null; rm -rf -- "$0" || { sleep 1; rm -rf -- "$0"; }', work],
  { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
reaper.unref();
reaper.stdin.unref?.();

function cleanup() {
  for (const { proc } of started)
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
}
process.on('exit', cleanup);
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(1));
setTimeout(() => {
  console.log('not ok - the run took over 100 s\n# server log:\n# ' + serverLog.split('\n').join('\n# '));
  process.exit(1);
}, 100_000).unref();

function assert(cond, message) {
  if (!cond) throw new Error(message);
}
function eq(actual, expected, what) {
  const a = JSON.stringify(actual), e = JSON.stringify(expected);
  assert(a === e, `${what}: got ${a}, want ${e}`);
}
async function step(name, fn) {
  steps++;
  try {
    await fn();
    console.log(`ok ${steps} - ${name}`);
  } catch (err) {
    console.log(`not ok ${steps} - ${name}\n# ${String(err.stack || err).split('\n').join('\n# ')}`);
    if (page) await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
    console.log(`# screenshot of the failure: ${shot}`);
    console.log(`1..${steps}`);
    await browser?.close().catch(() => {});
    process.exit(1);
  }
}
async function waitFor(what, fn, ms = 20_000) { // generous: CI machines are small and busy
  const end = performance.now() + ms; // monotonic: a wall-clock step must not end a wait
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err.message;
    }
    assert(performance.now() < end, `timed out after ${ms} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer().once('error', fail).listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

/* The HTTP API, as a workload or sbctl sees it. */
async function api(method, path, { body, headers = {}, auth = false } = {}) {
  const h = { ...headers };
  if (auth) h.Authorization = `Bearer ${token}`;
  if (body !== undefined) h['Content-Type'] = 'application/json';
  const res = await fetch(base + path, { method, headers: h, body: body && JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : null };
}
const chainOf = (a) => (a.primary === null ? ['no route'] : [a.primary, ...a.fallbacks]);
async function answer(role, tenant) {
  const r = await api('GET', `/config/${role}${tenant ? `?tenant=${tenant}` : ''}`);
  eq(r.status, 200, `GET /config/${role}`);
  return r.json;
}
const revision = async () => (await api('GET', '/readyz')).json.revision;

/* What the page shows. */
async function pageChain(scope) {
  const cell = page.locator(`${scope} td.resolved`);
  if ((await cell.locator('.noroute').count()) > 0) return ['no route'];
  return cell.locator('.model').allTextContents();
}
const roleChain = (role) => pageChain(`#roles tr[data-role="${role}"]`);
const tenantChain = (tenant, role) => pageChain(`#tenants [data-tenant="${tenant}"] tr[data-role="${role}"]`);
const switchOf = (provider) => page.locator(`#providers tr[data-provider="${provider}"] button.switch`);

async function rolesMatchTheApi() {
  for (const role of Object.keys(topology.roles)) {
    const want = chainOf(await answer(role));
    eq(await roleChain(role), want, `the page's chain of ${role}`);
  }
  return true;
}

/* Starts a server with args on a free port and a new data directory; it becomes the one the
   helpers above talk to. */
async function startServer(args) {
  assert(bin, 'SWITCHBOARD_BIN is not set');
  const dir = mkdtempSync(join(work, 'server-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  serverLog = '';
  // setpriv: the server is killed when this process dies, however it dies.
  server = spawn('setpriv', ['--pdeathsig', 'KILL', bin, '--listen', `127.0.0.1:${port}`, '--data', dir,
    '--threads', '2', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  started.push({ proc: server });
  server.stderr.on('data', (d) => { serverLog += d; });
  await waitFor('GET /readyz', async () => (await api('GET', '/readyz')).status === 200);
  token = readFileSync(join(dir, 'admin.token'), 'utf8').trim();
  server.dataDir = dir;
}

async function stopServer() {
  const exited = new Promise((r) => server.once('exit', (code, signal) => r({ code, signal })));
  server.kill('SIGTERM');
  eq(await exited, { code: 0, signal: null }, `the server's exit (its log: ${serverLog.slice(-2000)})`);
}

await step('the server starts with the test topology', () => startServer(['--seed', join(here, 'topology.json')]));

await step('the page loads in headless Chromium, live, with no console error', async () => {
  browser = await chromium.launch({ executablePath: browserPath, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  page.errors = errors;
  await page.goto(base + '/');
  await waitFor('the status to say live', async () => (await page.textContent('#status')) === 'live');
  eq(await page.textContent('#revision'), `revision ${await revision()}`, 'the revision shown');
  await page.evaluate(() => { window.notReloaded = true; });
  eq(errors, [], 'console errors (a CSP violation shows here)');
});

await step('every provider is shown with its switch; without a token nothing can be flipped', async () => {
  for (const [name, doc] of Object.entries(topology.providers)) {
    eq(await switchOf(name).getAttribute('aria-pressed'), String(doc.enabled), `${name}'s switch`);
    assert(await switchOf(name).isDisabled(), `${name}'s switch works without a token`);
  }
  assert((await page.textContent('#audit-note')).includes('Paste an admin token'), 'the audit asks for a token');
});

await step('every role shows its assignment, its resolved chain and what was dropped, as the API answers', async () => {
  await rolesMatchTheApi();
  const explicit = await page.textContent('#roles tr[data-role="triage"] td:nth-child(2)');
  assert(explicit.includes('explicit fallbacks'), `triage's assignment: ${explicit}`);
  const chained = await page.textContent('#roles tr[data-role="review"] td:nth-child(2)');
  assert(chained.includes('failback chain'), `review's assignment: ${chained}`);
  const dropped = await page.textContent('#roles tr[data-role="translate"] td:nth-child(4)');
  assert(dropped.includes('google/gemini-3-pro') && dropped.includes('google disabled'), `translate's dropped: ${dropped}`);
});

await step("tenants' overrides and the answers they change", async () => {
  const initech = await page.textContent('#tenants [data-tenant="initech"] dl');
  assert(initech.includes('groq: off'), `initech's switches: ${initech}`);
  await waitFor("initech's answers", () => page.locator('#tenants [data-tenant="initech"] tr[data-role="triage"]').count());
  for (const role of ['triage', 'review', 'summarize'])
    eq(await tenantChain('initech', role), chainOf(await answer(role, 'initech')), `initech's ${role}`);
  eq(await page.locator('#tenants [data-tenant="initech"] tr[data-role="translate"]').count(), 0,
    "initech's translate (the same as everyone's) listed as different");
  const globex = await page.textContent('#tenants [data-tenant="globex"] dl');
  assert(globex.includes('review') && globex.includes('mistral/mistral-large-3'), `globex's roles: ${globex}`);
  eq(await tenantChain('globex', 'review'), chainOf(await answer('review', 'globex')), "globex's review");
});

await step('an admin token enables the switches and shows the audit', async () => {
  await page.fill('#token', token);
  await page.click('#token-use');
  await waitFor('the switches to be enabled', async () => !(await switchOf('groq').isDisabled()));
  await waitFor('the audit entries', () => page.locator('#audit tbody tr').count());
  const first = await page.textContent('#audit tbody tr');
  assert(first.includes('seed'), `the newest audit entry: ${first}`);
});

let before;
await step('a click on a switch shows the dry-run plan and writes nothing', async () => {
  before = await revision();
  await switchOf('groq').click();
  await page.waitForSelector('#plan[open]', { timeout: 20_000 });
  eq(await page.textContent('#plan-title'), 'Disable groq?', 'the plan title');
  const dry = await api('PATCH', '/admin/providers/groq?dry_run=1', { body: { enabled: false }, auth: true });
  eq(dry.status, 200, 'the dry run over HTTP');
  // Every change of the dry run is on the page, with its chain after: in a row of its own, or,
  // when a tenant's change is the same as everyone's, named on everyone's row.
  const rows = page.locator('#plan-changes tbody tr');
  const shown = [];
  for (let i = 0; i < await rows.count(); i++) {
    const row = rows.nth(i);
    const after = await row.locator('td:nth-child(4) ol .model').allTextContents();
    const also = (await row.getAttribute('data-also')).split(' ').filter(Boolean);
    for (const tenant of [await row.getAttribute('data-tenant'), ...also])
      shown.push(JSON.stringify([await row.getAttribute('data-role'), tenant || null, after]));
  }
  eq(shown.sort(), dry.json.changes.map((c) => JSON.stringify([c.role, c.tenant, chainOf(c.after)])).sort(), 'the plan');
  // Tenants that do not shape triage or summarize read everyone's answers: no rows of their own.
  const n = dry.json.changes.length;
  assert(n >= 2, `the plan lists ${n} changes`);
  eq(dry.json.counts, { changes: n, global: n, tenants: {}, loses_route: 0 }, 'the counts');
  eq(await page.textContent('#plan-summary'), `At revision ${before}, this changes ${n} answers (${n} for everyone):`, 'the summary');
  assert(dry.json.changes.some((c) => c.role === 'triage'), 'the plan names triage');
  eq(await revision(), before, 'the revision after a plan');
  eq(await page.textContent('#plan-lost'), '', 'no lost route');
  await page.click('#plan-cancel');
  await waitFor('the plan to close', async () => !(await page.locator('#plan[open]').count()));
  eq(await revision(), before, 'the revision after cancel');
  eq(await switchOf('groq').getAttribute('aria-pressed'), 'true', "groq's switch after cancel");
});

await step('confirming the plan flips the provider: the page and GET /config change', async () => {
  const triageBefore = chainOf(await answer('triage'));
  assert(triageBefore.includes('groq/llama-4-scout'), 'triage starts on groq');
  await switchOf('groq').click();
  await page.waitForSelector('#plan[open]');
  await page.fill('#plan-reason', 'browser test: groq 5xx');
  await page.click('#plan-confirm');
  await waitFor('the plan to close', async () => !(await page.locator('#plan[open]').count()));
  eq(await revision(), before + 1, 'the revision after the flip');
  const triage = chainOf(await answer('triage'));
  assert(!triage.includes('groq/llama-4-scout'), `GET /config/triage still routes to groq: ${triage}`);
  await waitFor("the page's switch", async () => (await switchOf('groq').getAttribute('aria-pressed')) === 'false');
  await waitFor("the page's chains to match the API", rolesMatchTheApi);
  eq(await roleChain('triage'), triage, "the page's triage chain");
  assert((await page.textContent('#message')).includes(`groq disabled at revision ${before + 1}`), 'the confirmation');
  await waitFor('the audit entry', async () => (await page.textContent('#audit tbody tr')).includes('browser test: groq 5xx'));
  const audit = await api('GET', '/admin/audit?limit=1', { auth: true });
  eq([audit.json.entries[0].key, audit.json.entries[0].actor, audit.json.entries[0].reason],
    ['providers/groq', 'admin', 'browser test: groq 5xx'], 'the audit entry over HTTP');
});

await step('a plan that leaves a role with no route says so, and cancelling writes nothing', async () => {
  const rev = await revision();
  await switchOf('mistral').click();
  await page.waitForSelector('#plan[open]');
  const lost = await page.textContent('#plan-lost');
  assert(lost.includes('translate') && lost.includes('no route'), `the lost-route warning: ${lost}`);
  eq(await page.textContent('#plan-confirm'), 'Disable mistral anyway', 'the confirm button');
  await page.screenshot({ path: shot.replace(/\.png$/, '') + '-plan.png' });
  await page.click('#plan-cancel');
  eq(await revision(), rev, 'the revision after cancel');
  eq(chainOf(await answer('translate')), ['mistral/mistral-large-3'], 'translate after cancel');
});

await step('a change made elsewhere reaches the page through the long-poll, without a reload', async () => {
  // Quiet: the page holds one long-poll open rather than asking again and again.
  const asked = [];
  const onRequest = (req) => req.url().includes('/topology') && asked.push(req.url());
  page.on('request', onRequest);
  await new Promise((r) => setTimeout(r, 1500));
  page.off('request', onRequest);
  eq(asked.length, 0, 'requests for /topology in a quiet 1.5 s');
  const metrics = await (await fetch(base + '/metrics')).text();
  assert(/^switchboard_watchers 1$/m.test(metrics), 'the server counts the page\'s watch: ' +
    metrics.split('\n').filter((l) => l.startsWith('switchboard_watchers')).join());
  const r = await api('PATCH', '/admin/providers/google', { body: { enabled: true }, auth: true,
    headers: { 'X-Change-Reason': 'quota back' } });
  eq(r.status, 200, 'the flip over HTTP');
  const t0 = performance.now();
  await waitFor("google's switch on the page", async () => (await switchOf('google').getAttribute('aria-pressed')) === 'true', 3000);
  await waitFor("translate's chain on the page", async () =>
    JSON.stringify(await roleChain('translate')) === JSON.stringify(chainOf(await answer('translate'))), 3000);
  console.log(`# the page followed the flip in ${Math.round(performance.now() - t0)} ms`);
  assert(await page.evaluate(() => window.notReloaded === true), 'the page was reloaded');
  eq(await page.textContent('#revision'), `revision ${await revision()}`, 'the revision shown');
});

await step('a plan gone stale is not written: the page shows the new plan', async () => {
  await switchOf('anthropic').click();
  await page.waitForSelector('#plan[open]');
  // Someone else changes anthropic's document between the plan and its confirmation.
  const other = await api('PATCH', '/admin/providers/anthropic', { body: { description: 'Anthropic API (EU)' }, auth: true });
  eq(other.status, 200, 'the concurrent change');
  const rev = await revision();
  await page.click('#plan-confirm');
  await waitFor('the stale-plan note', async () => (await page.textContent('#plan-error')).includes('changed since this plan'));
  eq(await revision(), rev, 'the revision after a stale confirmation');
  eq((await api('GET', '/admin/providers/anthropic', { auth: true })).json.enabled, true, 'anthropic after a stale confirmation');
  await page.click('#plan-confirm');
  await waitFor('the plan to close', async () => !(await page.locator('#plan[open]').count()));
  eq((await api('GET', '/admin/providers/anthropic', { auth: true })).json.enabled, false, 'anthropic after the new plan');
  await waitFor("the page's chains to match the API", rolesMatchTheApi);
});

await step('the page saves a screenshot and logged no error', async () => {
  // Back to a healthy fleet for the picture.
  await switchOf('anthropic').click();
  await page.waitForSelector('#plan[open]');
  await page.click('#plan-confirm');
  await waitFor("anthropic's switch", async () => (await switchOf('anthropic').getAttribute('aria-pressed')) === 'true');
  await waitFor("the page's chains to match the API", rolesMatchTheApi);
  await page.evaluate(() => document.querySelector('#message').replaceChildren());
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`# screenshot: ${shot}`);
  // Chromium logs every 4xx as a console error; the 412 was the stale confirmation's, on purpose.
  eq(page.errors.filter((e) => !e.includes('status of 412')), [], 'console errors');
});

await step('behind a proxy that serves it under a prefix, the page works the same', async () => {
  // The smallest reverse proxy: /ops/switchboard/<rest> -> the server's /<rest>, streamed.
  const prefix = '/ops/switchboard';
  const upstream = new URL(base);
  const proxy = createHttpServer((req, res) => {
    if (!req.url.startsWith(prefix + '/')) return res.writeHead(404).end();
    const up = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method,
      path: req.url.slice(prefix.length), headers: req.headers }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise((ok) => proxy.listen(0, '127.0.0.1', ok));
  try {
    const behind = await browser.newPage();
    await behind.goto(`http://127.0.0.1:${proxy.address().port}${prefix}/`);
    await waitFor('the status to say live', async () => (await behind.textContent('#status')) === 'live');
    for (const role of Object.keys(topology.roles))
      eq(await behind.locator(`#roles tr[data-role="${role}"] td.resolved .model`).allTextContents(),
        chainOf(await answer(role)), `${role}'s chain behind the proxy`);
    const r = await api('PATCH', '/admin/providers/google', { body: { enabled: false }, auth: true });
    eq(r.status, 200, 'a flip over HTTP');
    await waitFor("google's switch behind the proxy", async () =>
      (await behind.locator('#providers tr[data-provider="google"] button.switch').getAttribute('aria-pressed')) === 'false');
    await behind.close();
  } finally {
    proxy.closeAllConnections();
    proxy.close();
  }
});

await step('the server stops cleanly (under the sanitizers: with no report)', async () => {
  await page.close();
  await stopServer();
});

await step('an empty store behind --read-auth: the page asks for a token; a read token reads, an admin token flips', async () => {
  await startServer(['--no-demo', '--read-auth']);
  page = await browser.newPage();
  await page.goto(base + '/');
  await waitFor('the status to ask for a token', async () => (await page.getAttribute('#status', 'data-state')) === 'locked');
  assert((await page.textContent('#status')).includes('needs a token'), await page.textContent('#status'));
  await page.fill('#token', 'not-a-token');
  await page.click('#token-use');
  await waitFor('the status to say the token was refused', async () => (await page.textContent('#status')).includes('refused'));
  // A read token (made while the server runs; it reloads tokens within a second) reads all, flips nothing.
  const viewer = execFileSync(bin, ['token', 'create', '--name', 'viewer', '--scope', 'read',
    '--data', server.dataDir], { encoding: 'utf8' }).trim();
  await waitFor('the read token to be known', async () =>
    (await fetch(base + '/topology', { headers: { Authorization: `Bearer ${viewer}` } })).status === 200);
  await page.fill('#token', viewer);
  await page.click('#token-use');
  await waitFor('the status to say live', async () => (await page.textContent('#status')) === 'live');
  assert((await page.textContent('#providers tbody')).includes('No providers yet'), 'the empty providers table');
  assert((await page.textContent('#roles tbody')).includes('No roles yet'), 'the empty roles table');
  await waitFor('the audit to be refused', async () => (await page.textContent('#audit-note')).includes('403'));
  const r = await api('PUT', '/admin/providers/openai', { body: { enabled: true }, auth: true });
  eq(r.status, 201, 'a provider made over HTTP');
  await waitFor('the new provider on the page', () => switchOf('openai').count());
  await switchOf('openai').click();
  await waitFor('the refusal', async () => (await page.textContent('#message')).includes('403'));
  eq(await page.locator('#plan[open]').count(), 0, 'a plan shown to a read token');
  eq((await api('GET', '/admin/providers/openai', { auth: true })).json.enabled, true, 'openai after the refusal');
  // The admin token flips it.
  await page.click('#token-forget');
  await page.fill('#token', token);
  await page.click('#token-use');
  await waitFor('the audit', async () => (await page.textContent('#audit tbody')).includes('providers/openai'));
  await switchOf('openai').click();
  await page.waitForSelector('#plan[open]');
  eq(await page.textContent('#plan-summary'), 'At revision 1, this changes no answer.', 'the plan with no role');
  await page.click('#plan-confirm');
  await waitFor("openai's switch", async () => (await switchOf('openai').getAttribute('aria-pressed')) === 'false');
});

await step('a plan larger than a page shows its counts and says how many changes are not listed', async () => {
  // 130 roles on openai (switched off above), with a fallback on a provider that has no switch.
  const ops = [];
  for (let i = 0; i < 130; i++)
    ops.push({ op: 'put', key: `roles/bulk-${String(i).padStart(3, '0')}`,
      value: { primary: `openai/m${i}`, fallbacks: ['other/x'] } });
  eq((await api('POST', '/admin/txn', { body: { ops }, auth: true })).status, 200, 'the roles over HTTP');
  await waitFor('the roles on the page', async () => (await page.locator('#roles tbody tr').count()) >= 130);
  await switchOf('openai').click();
  await page.waitForSelector('#plan[open]');
  const dry = await api('PUT', '/admin/providers/openai?dry_run=1', { body: { enabled: true }, auth: true });
  eq(dry.json.counts.changes, 130, 'the dry run counts every change');
  eq(await page.locator('#plan-changes tbody tr').count(), 100, 'the rows of the first page');
  eq(await page.textContent('#plan-summary'),
    `At revision ${dry.json.revision}, this changes 130 answers (130 for everyone). The first 100 are listed, 30 more are not:`,
    'the summary');
  await page.click('#plan-cancel');
  await waitFor('the plan to close', async () => !(await page.locator('#plan[open]').count()));
});

await step('the second server stops cleanly too', async () => {
  await browser.close();
  browser = null;
  await stopServer();
});
console.log(`1..${steps}`);
