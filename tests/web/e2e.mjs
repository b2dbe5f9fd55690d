// End-to-end test of the hub's web view (docs/web.md) in Debian's headless
// Chromium, driven by playwright-core, against a running `surgewatch demo
// --json --web 127.0.0.1:0`. Run by tests/integration/test_web.sh, which
// makes the tokens and the viewers file and passes everything in the
// environment:
//   SW_BIN            the surgewatch binary
//   E2E_OUT           a directory for the demo's output (alerts.tsv: arrival
//                     time in ms and the JSON line; demo.err)
//   E2E_SHOTS         the directory for the screenshots
//   E2E_VIEWERS       the --web-viewers file
//   E2E_OP_TOKEN      an operator's token (sections *)
//   E2E_VIEWER_TOKEN  a viewer's token limited to E2E_VIEWER_SECTIONS (a,b)
//   E2E_SECTIONS      every section of the scenario (comma-separated)
//   E2E_SECTION       the section whose page is opened (default HU-RS)
//   E2E_DEMO_ARGS     more demo options (--speed, --from, --to)
//   E2E_PREVIEW_SET   the proposed change that must add alarms
//                     (KEY=VALUE, default ears_c2.alpha=0.01)
//   E2E_CHROMIUM      the browser (default /usr/bin/chromium)
// Prints TAP-ish lines: "ok - ...", "not ok - ..." (details follow as
// "#   ..."), "# ..." comments. Exits 0 only when every check passed.
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { CutProxy } from './proxy.mjs';

const env = (k, d) => process.env[k] ?? d;
const SW_BIN = env('SW_BIN');
const OUT = env('E2E_OUT');
const SHOTS = env('E2E_SHOTS');
const VIEWERS = env('E2E_VIEWERS');
const OP_TOKEN = env('E2E_OP_TOKEN');
const VIEWER_TOKEN = env('E2E_VIEWER_TOKEN');
const VIEWER_SECTIONS = env('E2E_VIEWER_SECTIONS', '').split(',').filter(Boolean);
const SECTIONS = env('E2E_SECTIONS', '').split(',').filter(Boolean);
const SECTION = env('E2E_SECTION', 'HU-RS');
const DEMO_ARGS = env('E2E_DEMO_ARGS', '').split(/\s+/).filter(Boolean);
const PREVIEW_SET = env('E2E_PREVIEW_SET', 'ears_c2.alpha=0.01');
const CHROMIUM = env('E2E_CHROMIUM', '/usr/bin/chromium');
const BOUND_MS = 2000; // the issue's bound: the tile within two seconds of the alert
const LEVELS = ['none', 'low', 'medium', 'high', 'critical'];

for (const [k, v] of Object.entries({ SW_BIN, OUT, SHOTS, VIEWERS, OP_TOKEN, VIEWER_TOKEN })) {
    if (!v) {
        console.log(`not ok - e2e.mjs: ${k} is not set`);
        process.exit(1);
    }
}
fs.mkdirSync(OUT, { recursive: true });
fs.mkdirSync(SHOTS, { recursive: true });

let failures = 0;
function check(cond, desc, details = []) {
    console.log((cond ? 'ok - ' : 'not ok - ') + desc);
    if (!cond) {
        failures++;
        for (const d of [].concat(details).slice(0, 25)) console.log('#   ' + String(d).slice(0, 400));
    }
    return !!cond;
}
const note = (s) => console.log('# ' + s);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
const rel = (t) => ((t - t0) / 1000).toFixed(1) + ' s';
const setEq = (a, b) => a.size === b.size && [...a].every((x) => b.has(x));
const diffSets = (got, want) => {
    const missing = [...want].filter((x) => !got.has(x)).sort((x, y) => x - y);
    const extra = [...got].filter((x) => !want.has(x)).sort((x, y) => x - y);
    return [`missing (${missing.length}): ${missing.slice(0, 40).join(' ')}`, `extra (${extra.length}): ${extra.slice(0, 40).join(' ')}`];
};
const dups = (arr) => arr.filter((x, i) => arr.indexOf(x) !== i);
const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
};

// ------------------------------------------------------------- the demo
const demoArgs = ['demo', '--json', '--web', '127.0.0.1:0', '--web-viewers', VIEWERS, ...DEMO_ARGS];
note(`starting: ${SW_BIN} ${demoArgs.join(' ')}`);
const demo = spawn(SW_BIN, demoArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
const alertsOut = fs.createWriteStream(path.join(OUT, 'alerts.tsv'));
const errOut = fs.createWriteStream(path.join(OUT, 'demo.err'));
const lines = []; // {a, t}
const badLines = [];
let waiters = [];
let demoExited = null; // {code, signal, at}
let endAt = null; // when the replay ended (summary on stderr, or stdout closed)
let webUrl = null;
const wake = () => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
};
// Resolves with true once pred() holds, false on timeout or when the demo
// has exited without it holding.
function until(pred, timeoutMs) {
    return new Promise((resolve) => {
        const deadline = Date.now() + timeoutMs;
        const test = () => {
            if (pred()) return resolve(true);
            if (demoExited || Date.now() > deadline) return resolve(false);
            waiters.push(test);
        };
        test();
    });
}
setInterval(wake, 200).unref();
readline.createInterface({ input: demo.stdout }).on('line', (raw) => {
    const t = Date.now();
    alertsOut.write(`${t}\t${raw}\n`);
    try {
        const a = JSON.parse(raw);
        if (typeof a.seq !== 'number' || typeof a.section !== 'string') throw new Error('no seq/section');
        lines.push({ a, t });
    } catch (e) {
        badLines.push(raw);
    }
    wake();
});
demo.stdout.on('end', () => {
    endAt ??= Date.now();
    wake();
});
readline.createInterface({ input: demo.stderr }).on('line', (l) => {
    errOut.write(l + '\n');
    const m = /web view at (\S+)/.exec(l);
    if (m && !webUrl) webUrl = m[1];
    if (/replayed|surges caught/.test(l)) endAt ??= Date.now();
    wake();
});
const exitPromise = new Promise((resolve) =>
    demo.on('exit', (code, signal) => {
        demoExited = { code, signal, at: Date.now() };
        endAt ??= Date.now();
        wake();
        resolve(demoExited);
    })
);
function stopDemo() {
    if (!demoExited) demo.kill('SIGINT');
}
process.on('exit', stopDemo);
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'])
    process.on(sig, () => {
        stopDemo();
        process.exit(128 + (sig === 'SIGHUP' ? 1 : sig === 'SIGINT' ? 2 : 15));
    });

// The expected level of each section after each line: the highest level of
// the section's active alert ids.
function replay(ls) {
    const active = new Map(); // alert_id -> {section, level}
    const levelOf = (sec) => {
        let m = 0;
        for (const v of active.values()) if (v.section === sec) m = Math.max(m, LEVELS.indexOf(v.level));
        return LEVELS[m];
    };
    return ls.map(({ a, t }) => {
        if (a.state === 'resolved') active.delete(a.alert_id);
        else active.set(a.alert_id, { section: a.section, level: a.level });
        return { a, t, expect: levelOf(a.section) };
    });
}
function finalLevels(ls, sections) {
    const r = replay(ls);
    const out = {};
    for (const s of sections) out[s] = 'none';
    for (const x of r) out[x.a.section] = x.expect;
    return out;
}

// ------------------------------------------------------------- pages
// Every page records its console errors, uncaught exceptions, failed
// requests and HTTP errors (with the time, to leave out what follows the end
// of the demo or a deliberate cut), and the changes of
// body.dataset.connection.
const connScript = () => {
    window.__swConn = [];
    const obs = new MutationObserver(() => {
        const v = document.body && document.body.dataset.connection;
        const l = window.__swConn;
        if (v !== undefined && (!l.length || l[l.length - 1].v !== v)) l.push({ v, at: Date.now() });
    });
    obs.observe(document, { subtree: true, attributes: true, attributeFilter: ['data-connection'], childList: true });
};
function watch(page, name) {
    const probs = [];
    page.on('console', (m) => {
        if (m.type() === 'error') probs.push({ at: Date.now(), what: `console error: ${m.text()} (${m.location()?.url || '?'})` });
    });
    page.on('pageerror', (e) => probs.push({ at: Date.now(), what: `uncaught: ${e.message}` }));
    page.on('requestfailed', (r) =>
        probs.push({ at: Date.now(), what: `request failed: ${r.method()} ${r.url()} ${r.failure()?.errorText}` })
    );
    page.on('response', (r) => {
        if (r.status() >= 400) probs.push({ at: Date.now(), what: `HTTP ${r.status()}: ${r.request().method()} ${r.url()}` });
    });
    page.__probs = probs;
    page.__name = name;
    return page;
}
const problems = (page, from = 0, to = Infinity) =>
    page.__probs.filter((p) => p.at >= from && p.at <= to).map((p) => `${rel(p.at)}: ${p.what}`);
const tokenRe = new RegExp([OP_TOKEN, VIEWER_TOKEN].map((s) => s.replace(/[^\w]/g, '\\$&')).join('|'), 'g');
const hideTokens = (s) => s.replace(tokenRe, 'TOKEN');

async function pageState(page) {
    return page.evaluate(() => ({
        seen: Array.isArray(window.swSeen) ? [...window.swSeen] : null,
        changes: Array.isArray(window.swTileChanges) ? window.swTileChanges.map((c) => ({ ...c })) : null,
        tiles: [...document.querySelectorAll('.tile')].map((t) => ({
            section: t.dataset.section,
            level: t.dataset.level,
            text: (t.querySelector('.level')?.textContent || '').trim(),
        })),
        feed: [...document.querySelectorAll('#feed li[data-seq]')].map((li) => ({
            seq: Number(li.dataset.seq),
            section: li.dataset.section,
        })),
        connection: document.body.dataset.connection,
        conn: window.__swConn ? [...window.__swConn] : [],
        ready: document.body.dataset.ready,
    }));
}

// Opens BASE?token=TOKEN the way a wall screen's bookmark does; returns the
// response and the state once drawn.
async function open(page, base, token) {
    const resp = await page.goto(base + '?token=' + encodeURIComponent(token), { waitUntil: 'load', timeout: 60000 });
    await page.waitForFunction(() => document.body && document.body.dataset.ready === '1', null, { timeout: 60000 });
    return resp;
}

// The latency of each raised/updated line on a page: from the line's arrival
// on the demo's stdout to the first moment the section's tile shows the
// level the lines imply (that of this line, or of a later line of the same
// section that had arrived by then); 0 when it already did (the page can get
// an alert before the demo's subscriber prints it).
function latencies(changes, ls, sections, readyAt) {
    const bySec = {};
    for (const s of sections) bySec[s] = [];
    for (const c of changes) (bySec[c.section] ??= []).push(c);
    const levelAt = (sec, t) => {
        let l = 'none';
        for (const c of bySec[sec] || []) if (c.at <= t) l = c.level;
        return l;
    };
    const r = replay(ls);
    const out = [];
    for (let i = 0; i < r.length; i++) {
        const { a, t, expect } = r[i];
        if (!sections.includes(a.section)) continue;
        if (a.state !== 'raised' && a.state !== 'updated') continue;
        if (t < readyAt) continue; // before the page was drawn
        const later = r.filter((x, j) => j >= i && x.a.section === a.section && x.t <= t + BOUND_MS);
        const cands = [t, ...(bySec[a.section] || []).map((c) => c.at), ...later.map((x) => x.t)]
            .filter((x) => x >= t && x <= t + BOUND_MS)
            .sort((x, y) => x - y);
        let hit = null;
        for (const tau of cands) {
            const ok = later.some((x) => x.t <= tau && x.expect === levelAt(a.section, tau));
            if (ok) {
                hit = tau;
                break;
            }
        }
        // the moment the tile took that level, when that was before the line
        let ms = hit === null ? null : hit - t;
        out.push({ seq: a.seq, section: a.section, expect, t, ms, shown: levelAt(a.section, t + BOUND_MS) });
    }
    return out;
}

async function main() {
    // 1. the demo announces its web view
    await until(() => webUrl, 240000);
    if (!check(webUrl && /^http:\/\/127\.0\.0\.1:\d+\/$/.test(webUrl), `the demo prints its web view's address on stderr: ${webUrl}`, [
        `demo exited: ${JSON.stringify(demoExited)}`,
        ...fs.readFileSync(path.join(OUT, 'demo.err'), 'utf8').split('\n').slice(-15),
    ])) return;
    note(`web view at ${webUrl} after ${rel(Date.now())}; ${lines.length} alert lines so far`);
    const base = webUrl;
    const hubPort = Number(new URL(base).port);
    const proxy = new CutProxy('127.0.0.1', hubPort);
    const proxyPort = await proxy.listen();
    const proxied = `http://127.0.0.1:${proxyPort}/`;

    const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
            '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    note(`browser: Chromium ${browser.version()}`);
    try {
        await run(browser, base, proxy, proxied);
    } finally {
        await browser.close().catch(() => {});
        await proxy.close().catch(() => {});
    }
}

async function run(browser, base, proxy, proxied) {
    const ctx = async (viewport) => {
        const c = await browser.newContext({ viewport });
        await c.addInitScript(connScript);
        return c;
    };
    const big = { width: 1920, height: 1080 };
    const ctxA = await ctx(big); // operator, straight to the hub: latency, final levels
    const ctxB = await ctx({ width: 1280, height: 800 }); // operator through the proxy: the cut
    const ctxR = await ctx({ width: 1280, height: 800 }); // operator, reloaded mid-run
    const ctxC = await ctx({ width: 1280, height: 800 }); // the viewer limited to two sections
    const ctxN = await ctx({ width: 1280, height: 800 }); // nobody: no token

    // 2. the page loads
    const pageA = watch(await ctxA.newPage(), 'operator');
    const loadAt = Date.now();
    let respA;
    try {
        respA = await open(pageA, base, OP_TOKEN);
    } catch (e) {
        check(false, 'the page loads for the operator and is drawn (body[data-ready=1])', [hideTokens(e.message)]);
        return;
    }
    const readyA = Date.now();
    const chain = [];
    for (let r = respA.request(); r; r = r.redirectedFrom()) chain.unshift(r.url());
    check(respA.status() === 200 && pageA.url() === base,
        `GET /?token=...: redirected to / (${chain.map(hideTokens).join(' -> ')}), status 200, drawn in ${readyA - loadAt} ms`,
        [`status ${respA.status()}, final address ${hideTokens(pageA.url())}`]);
    const cookies = await ctxA.cookies();
    const ck = cookies.find((c) => c.name === 'sw_token');
    check(ck && ck.httpOnly && ck.sameSite === 'Strict' && ck.value === OP_TOKEN,
        'the token became the cookie sw_token (HttpOnly, SameSite=Strict)',
        [`cookies: ${JSON.stringify(cookies.map((c) => ({ ...c, value: c.value === OP_TOKEN ? 'TOKEN' : c.value })))}`]);
    note(`operator page drawn after ${rel(readyA)}, when ${lines.length} alert lines had arrived`);
    let st = await pageState(pageA);
    // the known sections come from the workers: wait (bounded) until all show
    for (let i = 0; i < 40 && st.tiles.length < SECTIONS.length; i++) {
        await sleep(300);
        st = await pageState(pageA);
    }
    const tileSecs = st.tiles.map((t) => t.section);
    check(tileSecs.length === SECTIONS.length && setEq(new Set(tileSecs), new Set(SECTIONS)),
        `one tile per section of the demo (${tileSecs.join(' ')}; all there ${Date.now() - readyA} ms after the page was drawn)`,
        [`want: ${SECTIONS.join(' ')}`, `after ${Date.now() - readyA} ms`]);
    check(st.tiles.every((t) => LEVELS.includes(t.level)), 'every tile has a data-level of none|low|medium|high|critical',
        [JSON.stringify(st.tiles)]);
    check(Array.isArray(st.seen) && Array.isArray(st.changes), 'the test hooks are there (window.swSeen, window.swTileChanges)',
        [`swSeen: ${JSON.stringify(st.seen)?.slice(0, 80)}, swTileChanges: ${JSON.stringify(st.changes)?.slice(0, 80)}`]);
    const connA = await pageA.waitForFunction(() => document.body.dataset.connection === 'live', null, { timeout: 30000 })
        .then(() => true, () => false);
    check(connA, 'the page is live (body[data-connection=live])', [`data-connection: ${(await pageState(pageA)).connection}`]);

    // the other pages
    const pageB = watch(await ctxB.newPage(), 'operator via proxy');
    await open(pageB, proxied, OP_TOKEN);
    const pageR = watch(await ctxR.newPage(), 'operator, reloaded');
    await open(pageR, base, OP_TOKEN);
    const pageC = watch(await ctxC.newPage(), 'viewer');
    let respC;
    try {
        respC = await open(pageC, base, VIEWER_TOKEN);
    } catch (e) {
        check(false, `the page loads for the viewer of ${VIEWER_SECTIONS.join(',')}`, [hideTokens(e.message)]);
    }
    const readyC = Date.now();
    note(`the other pages drawn after ${rel(readyC)}, when ${lines.length} alert lines had arrived`);

    // 3. the restricted viewer: only its sections; 403 elsewhere, 401 without a token
    const stC = await pageState(pageC);
    const cSecs = stC.tiles.map((t) => t.section);
    check(respC && respC.status() === 200 && cSecs.length === VIEWER_SECTIONS.length && setEq(new Set(cSecs), new Set(VIEWER_SECTIONS)),
        `the viewer limited to ${VIEWER_SECTIONS.join(',')} sees exactly their tiles: ${cSecs.join(' ')}`,
        [`status ${respC?.status()}`]);
    const other = SECTIONS.find((s) => !VIEWER_SECTIONS.includes(s));
    const probe = await ctxC.newPage(); // its own page: the refusals below must not count against pageC
    await probe.goto(base + 'api/state');
    const api = (p) => new URL(p, base).href;
    const fetchIn = (p, url, opts = {}) =>
        p.evaluate(async ([u, o]) => {
            const r = await fetch(u, o);
            let body = await r.text();
            try {
                body = JSON.parse(body);
            } catch (e) {}
            return { status: r.status, body, type: r.headers.get('content-type') };
        }, [url, opts]);
    const r403 = await fetchIn(probe, api(`api/section?name=${encodeURIComponent(other)}`));
    check(r403.status === 403 && r403.body && typeof r403.body.error === 'string',
        `the viewer's fetch('api/section?name=${other}'): 403 with an error (${JSON.stringify(r403.body)})`,
        [JSON.stringify(r403)]);
    const rOwn = await fetchIn(probe, api(`api/section?name=${encodeURIComponent(VIEWER_SECTIONS[0])}`));
    check(rOwn.status === 200 && rOwn.body?.section === VIEWER_SECTIONS[0] && Array.isArray(rOwn.body?.series),
        `the viewer's fetch('api/section?name=${VIEWER_SECTIONS[0]}'): 200, its series (${rOwn.body?.series?.length} buckets)`,
        [JSON.stringify(rOwn).slice(0, 300)]);
    const rPrev = await fetchIn(probe, api(`api/preview?name=${encodeURIComponent(VIEWER_SECTIONS[0])}&set=${encodeURIComponent(PREVIEW_SET)}`));
    check(rPrev.status === 403, `the viewer's preview (operators only): ${rPrev.status} ${JSON.stringify(rPrev.body)}`,
        [JSON.stringify(rPrev).slice(0, 300)]);
    const rNo = await fetchIn(probe, api('api/state'), { credentials: 'omit' });
    check(rNo.status === 401 && typeof rNo.body?.error === 'string',
        `without a token: api/state gives 401 (${JSON.stringify(rNo.body)})`, [JSON.stringify(rNo).slice(0, 300)]);
    const pageN = await ctxN.newPage();
    const rN = await pageN.goto(base);
    const formN = await pageN.locator('form input').count();
    check(rN.status() === 401 && formN > 0, `without a token: / gives 401 and a form asking for the token (${formN} input)`,
        [`status ${rN.status()}`, (await pageN.content()).slice(0, 300)]);
    const rBad = await fetchIn(pageN, api('api/state'), { headers: { Authorization: 'Bearer not-a-valid-token' } });
    check(rBad.status === 401, `a wrong token: api/state gives 401`, [JSON.stringify(rBad).slice(0, 300)]);
    await probe.close();
    await pageN.close();

    // 4. the cut: every proxied connection reset, new ones refused for 3 s,
    // while the demo goes on; then accepted again
    const cutAfter = Number(env('E2E_CUT_AFTER', '12'));
    await until(() => lines.length >= cutAfter, 300000);
    const before = (await pageState(pageB)).seen?.length;
    const cutAt = Date.now();
    proxy.refuse(true);
    const nCut = proxy.cut();
    const linesAtCut = lines.length;
    await sleep(1500);
    const shotReconnecting = path.join(SHOTS, 'operator-reconnecting-1280x800.png');
    await pageB.screenshot({ path: shotReconnecting });
    await sleep(1500);
    proxy.refuse(false);
    const openAt = Date.now();
    const during = lines.filter((l) => l.t >= cutAt && l.t < openAt).length;
    note(`cut ${nCut} proxied connection(s) at ${rel(cutAt)} after ${linesAtCut} alert lines (page B had seen ${before}); ` +
        `refused ${proxy.refused} connection(s) for ${openAt - cutAt} ms, during which ${during} alert lines arrived`);
    const liveAgain = await pageB.waitForFunction(
        (t) => (window.__swConn || []).some((c) => c.v === 'live' && c.at >= t), openAt, { timeout: 90000 })
        .then(() => true, () => false);
    const connB = (await pageState(pageB)).conn;
    const reconn = connB.find((c) => c.v === 'reconnecting' && c.at >= cutAt);
    const live2 = connB.find((c) => c.v === 'live' && c.at >= openAt);
    check(reconn && liveAgain && live2,
        `through the proxy: the page showed "reconnecting" ${reconn ? reconn.at - cutAt + ' ms after the cut' : '(never)'}, ` +
        `then "live" again ${live2 ? live2.at - openAt + ' ms after the proxy accepted again' : '(never)'}`,
        [`data-connection changes: ${JSON.stringify(connB.map((c) => ({ v: c.v, at: rel(c.at) })))}`]);
    check(during > 0 || lines.length > linesAtCut,
        `alerts went on while the page was cut off (${during} lines during the cut, ${lines.length - linesAtCut} so far since)`,
        ['the cut happened too late in the replay to mean anything']);
    const reqs = proxy.requests.filter((r) => r.at >= openAt && /api\/events/.test(r.path));
    note(`page B's requests for events after the cut: ${reqs.map((r) => `${hideTokens(r.path)} (Last-Event-ID: ${r.lastEventId})`).join('; ') || 'none'}`);

    // 5. screenshots of the overview while surges are on
    const shotAfter = Number(env('E2E_SHOTS_AFTER', '50'));
    await until(() => lines.length >= shotAfter, 300000);
    const shots = [];
    const shot = async (page, name) => {
        const p = path.join(SHOTS, name);
        await page.screenshot({ path: p });
        shots.push(p);
    };
    await shot(pageA, 'overview-1920x1080.png');
    await pageA.setViewportSize({ width: 1280, height: 800 });
    await sleep(300);
    await shot(pageA, 'overview-1280x800.png');
    await pageA.setViewportSize(big);
    await shot(pageC, `viewer-${VIEWER_SECTIONS.join('-')}-1280x800.png`);
    note(`overview screenshots at ${rel(Date.now())} after ${lines.length} alert lines`);

    // 6. the section page of a surging section, and a preview
    const pageS = watch(await ctxA.newPage(), 'section page');
    await pageS.setViewportSize({ width: 1600, height: 1000 });
    const sectionRespP = pageS.waitForResponse((r) => r.url().includes('/api/section?'), { timeout: 60000 }).catch(() => null);
    await pageS.goto(base + '#/section/' + encodeURIComponent(SECTION), { waitUntil: 'load' });
    await pageS.waitForFunction(() => document.body.dataset.ready === '1', null, { timeout: 60000 }).catch(() => {});
    const sectionResp = await sectionRespP;
    const sectionData = sectionResp && sectionResp.ok() ? await sectionResp.json().catch(() => null) : null;
    // the marks of a chart: its rects and circles, and the subpaths of its
    // paths (a bar chart may be one path of one subpath a bar)
    const marks = (sel) =>
        pageS.evaluate((s) => {
            const svg = document.querySelector(s);
            if (!svg) return null;
            const b = svg.getBoundingClientRect();
            let n = svg.querySelectorAll('rect, circle').length;
            for (const p of svg.querySelectorAll('path')) n += ((p.getAttribute('d') || '').match(/[Mm]/g) || []).length;
            const vis = !!(b.width && b.height) && svg.checkVisibility();
            return { n, w: Math.round(b.width), h: Math.round(b.height), vis };
        }, sel);
    const chartSel = '#section-view svg.chart.main, #section-view svg.chart.current';
    const nb = sectionData?.series?.length ?? 0;
    const drawn = await pageS.waitForFunction(([s, want]) => {
        const v = document.querySelector('#section-view');
        const svg = document.querySelector(s);
        if (!v || !v.checkVisibility() || !svg) return false;
        let n = svg.querySelectorAll('rect, circle').length;
        for (const p of svg.querySelectorAll('path')) n += ((p.getAttribute('d') || '').match(/[Mm]/g) || []).length;
        return want > 0 && n >= want;
    }, [chartSel, nb], { timeout: 30000 }).then(() => true, () => false);
    const cur0 = await marks(chartSel);
    const alarmsIn = sectionData?.series?.filter((b) => b[4] === 1).length;
    check(drawn && cur0?.vis && nb > 0,
        `#/section/${SECTION}: #section-view shows the period's chart, ${cur0?.n} marks (${cur0?.w}x${cur0?.h}) for its ` +
        `${nb} buckets (${alarmsIn} with an alarm, ${sectionData?.alerts?.length} alert transitions)`,
        [`chart: ${JSON.stringify(cur0)}`, `api/section: ${sectionResp?.status()}`]);
    note(`section page opened at ${rel(Date.now())} after ${lines.length} alert lines`);

    const [key, value] = PREVIEW_SET.split('=');
    // enters KEY=VALUE in the preview form (web/index.html: rows of a key and
    // a value input) and presses Preview; resolves with the api/preview response
    const preview = async (k, v) => {
        const box = pageS.locator('#preview-box');
        const keyEl = box.locator('.kv .k, [name=key]').first();
        const valEl = box.locator('.kv .v, [name=value]').first();
        await keyEl.fill(k);
        await valEl.fill(v);
        const resp = pageS.waitForResponse((r) => r.url().includes('/api/preview'), { timeout: 30000 });
        resp.catch(() => {});
        await box.locator('#pv-run, button[type=submit]').first().click();
        return resp;
    };
    let prev = null;
    let prevStatus = null;
    try {
        const r = await preview(key, value);
        prevStatus = r.status();
        prev = await r.json();
        await pageS.waitForFunction(() => {
            const c = document.querySelector('.alarms-count.proposed');
            return c && c.textContent.trim() !== '';
        }, null, { timeout: 30000 });
    } catch (e) {
        check(false, `preview of ${SECTION} ${PREVIEW_SET}`, [hideTokens(e.message).split('\n')[0], `status ${prevStatus}`]);
    }
    if (prev) {
        const shown = await pageS.evaluate(() => ({
            cur: document.querySelector('.alarms-count.current')?.textContent.trim(),
            pro: document.querySelector('.alarms-count.proposed')?.textContent.trim(),
            err: document.querySelector('#preview-error')?.checkVisibility() ? document.querySelector('#preview-error').textContent.trim() : '',
        }));
        const c = await marks('svg.chart.current');
        const p = await marks('svg.chart.proposed');
        const n = prev.current?.series?.length ?? 0;
        check(prevStatus === 200 && n > 0 && c?.n >= n && p?.n >= n && c.vis && p.vis,
            `Preview ${PREVIEW_SET}: both charts drawn (svg.chart.current ${c?.n} marks, svg.chart.proposed ${p?.n}) for ${n} buckets`,
            [`status ${prevStatus}`, `current ${JSON.stringify(c)}, proposed ${JSON.stringify(p)}`]);
        const num = (s) => Number((s || '').match(/\d+/)?.[0]);
        check(num(shown.cur) === prev.current?.alarms && num(shown.pro) === prev.proposed?.alarms,
            `the page shows the preview's alarm counts: current "${shown.cur}", proposed "${shown.pro}"`,
            [`api/preview: current ${prev.current?.alarms}, proposed ${prev.proposed?.alarms}`]);
        check(prev.current?.alarms > 0 && prev.proposed?.alarms > prev.current?.alarms,
            `the proposed ${PREVIEW_SET} (a lower alarm bound) sets off more alarms: ${prev.current?.alarms} -> ${prev.proposed?.alarms} ` +
            `(changes: ${JSON.stringify(prev.changes)})`, [JSON.stringify(prev).slice(0, 300)]);
        check(!shown.err, 'no #preview-error after a good preview', [shown.err]);
        await shot(pageS, `section-${SECTION}-preview-1600x1000.png`);
    }
    const okUntilBad = Date.now();
    // a bad value: refused with 400 and shown in #preview-error
    try {
        const r = await preview(key, 'not-a-number');
        const body = await r.json().catch(() => null);
        const errShown = await pageS.waitForFunction(() => {
            const e = document.querySelector('#preview-error');
            return e && e.checkVisibility() && e.textContent.trim() !== '' ? e.textContent.trim() : false;
        }, null, { timeout: 30000 }).then((h) => h.jsonValue(), () => null);
        check(r.status() === 400 && errShown, `a bad value (${key}=not-a-number): 400, #preview-error says: ${errShown}`,
            [`status ${r.status()}: ${JSON.stringify(body)}`]);
        await shot(pageS, `section-${SECTION}-preview-error-1600x1000.png`);
    } catch (e) {
        check(false, `a bad value (${key}=not-a-number) shows #preview-error`, [hideTokens(e.message).split('\n')[0]]);
    }
    check(problems(pageS, 0, okUntilBad).length === 0, 'the section page: no console error, no failed request',
        problems(pageS, 0, okUntilBad).map(hideTokens));

    // 7. the reload: a new page load mid-run
    const reloadAfter = Number(env('E2E_RELOAD_AFTER', '60'));
    await until(() => lines.length >= reloadAfter, 300000);
    const reloadStart = Date.now();
    await pageR.reload({ waitUntil: 'load' });
    await pageR.waitForFunction(() => document.body.dataset.ready === '1', null, { timeout: 60000 });
    const reloadedAt = Date.now();
    const linesAtReload = lines.length;
    note(`page R reloaded at ${rel(reloadStart)} after ${linesAtReload} alert lines`);

    // 8. the end of the demo
    const ex = await Promise.race([exitPromise, sleep(600000).then(() => null)]);
    check(ex && ex.code === 0, `the demo exits 0 (${ex ? `exit ${ex.code}${ex.signal ? ' signal ' + ex.signal : ''} after ${rel(ex.at)}` : 'still running after 10 min'})`,
        fs.readFileSync(path.join(OUT, 'demo.err'), 'utf8').split('\n').slice(-15));
    if (!ex) stopDemo();
    const errLines = fs.readFileSync(path.join(OUT, 'demo.err'), 'utf8').split('\n').filter(Boolean);
    for (const l of errLines.slice(-3)) note(`stderr: ${l}`);
    await sleep(300);
    check(lines.length > 0 && badLines.length === 0, `${lines.length} alert lines on the demo's stdout, each JSON with seq and section`,
        badLines.slice(0, 5));
    const allSeqs = new Set(lines.map((l) => l.a.seq));
    check(allSeqs.size === lines.length, 'each seq once on stdout', [`dups: ${dups(lines.map((l) => l.a.seq)).join(' ')}`]);
    const end = endAt ?? Date.now();

    const [A, B, R, C] = [await pageState(pageA), await pageState(pageB), await pageState(pageR), await pageState(pageC)];
    fs.writeFileSync(path.join(OUT, 'pages.json'), JSON.stringify({ A, B, R, C }, null, 1));

    // the page load: no console error, no failed request, from the load to
    // the end of the replay: the demo stops its hub before it prints its
    // summary, so a page's end is when it lost the hub after the last alert
    // line (its data-connection left "live"), or the demo's end
    const lastLineAt = lines.length ? lines[lines.length - 1].t : 0;
    const pageEnd = (S) => {
        const gone = S.conn.find((c) => c.v !== 'live' && c.at >= lastLineAt);
        return Math.min(end, gone ? gone.at : Infinity);
    };
    for (const [page, S, from] of [[pageA, A, 0], [pageC, C, 0], [pageR, R, reloadedAt]]) {
        const p = problems(page, from, pageEnd(S));
        check(p.length === 0, `${page.__name} page: no console error, no failed request, no HTTP error (until the hub stopped at the demo's end)`,
            p.map(hideTokens));
    }
    const backAt = (B.conn.find((c) => c.v === 'live' && c.at >= openAt) || { at: end }).at;
    const pB = problems(pageB, 0, cutAt).concat(problems(pageB, backAt + 1000, pageEnd(B)));
    check(pB.length === 0, 'operator page via the proxy: no console error, no failed request but during the cut', pB.map(hideTokens));

    // surge latency, and the final levels
    const lat = latencies(A.changes, lines, SECTIONS, readyA);
    const late = lat.filter((x) => x.ms === null);
    const ms = lat.filter((x) => x.ms !== null).map((x) => x.ms);
    check(lat.length > 0 && late.length === 0,
        `each raised/updated alert turned its tile to the section's level within ${BOUND_MS} ms of the line ` +
        `(${lat.length} alerts; max ${Math.max(...ms)} ms, median ${median(ms)} ms)`,
        late.map((x) => `seq ${x.seq} ${x.section} want ${x.expect}; at +${BOUND_MS} ms the tile showed ${x.shown}; ` +
            `changes: ${JSON.stringify(A.changes.filter((c) => c.section === x.section && c.at >= x.t - 3000 && c.at <= x.t + 5000).map((c) => [c.level, c.at - x.t]))}`));
    note(`tile latency (line on the demo's stdout -> tile level), operator page: n=${ms.length} max=${Math.max(...ms)} ms ` +
        `median=${median(ms)} ms, already shown at the line's arrival: ${ms.filter((m) => m === 0).length}`);
    // how the tile changes stand against the subscriber's lines (signed:
    // negative when the page had the alert first)
    {
        const r = replay(lines);
        const prevLv = {};
        const deltas = [];
        for (const x of r) {
            const before = prevLv[x.a.section] ?? 'none';
            prevLv[x.a.section] = x.expect;
            if (x.expect === before || x.t < readyA) continue;
            const c = A.changes.filter((c) => c.section === x.a.section && c.level === x.expect && Math.abs(c.at - x.t) <= BOUND_MS)
                .sort((p, q) => Math.abs(p.at - x.t) - Math.abs(q.at - x.t))[0];
            if (c) deltas.push(c.at - x.t);
        }
        if (deltas.length)
            note(`tile level changes against the line of the same alert (signed, ms): n=${deltas.length} min=${Math.min(...deltas)} ` +
                `median=${median(deltas)} max=${Math.max(...deltas)}`);
    }
    const latC = latencies(C.changes || [], lines, VIEWER_SECTIONS, readyC);
    const msC = latC.filter((x) => x.ms !== null).map((x) => x.ms);
    check(latC.length > 0 && msC.length === latC.length,
        `viewer page: each of its sections' alerts on its tile within ${BOUND_MS} ms (${latC.length} alerts; max ${Math.max(...msC)} ms, median ${median(msC)} ms)`,
        latC.filter((x) => x.ms === null).map((x) => `seq ${x.seq} ${x.section} want ${x.expect}, showed ${x.shown}`));
    const fin = finalLevels(lines, SECTIONS);
    note(`final levels from the lines: ${Object.entries(fin).map(([s, l]) => `${s}=${l}`).join(' ')}`);
    for (const [name, S, secs] of [['operator', A, SECTIONS], ['operator via proxy', B, SECTIONS], ['operator reloaded', R, SECTIONS], ['viewer', C, VIEWER_SECTIONS]]) {
        const wrong = secs.filter((s) => {
            const t = S.tiles.find((x) => x.section === s);
            return !t || t.level !== fin[s] || (fin[s] !== 'none' && !t.text.toLowerCase().includes(fin[s]));
        });
        check(wrong.length === 0, `${name} page: every tile's final level is what the lines imply`,
            wrong.map((s) => `${s}: want ${fin[s]}, tile ${JSON.stringify(S.tiles.find((x) => x.section === s))}`));
    }
    const lastChange = {};
    for (const c of A.changes) lastChange[c.section] = c.level;
    const incons = A.tiles.filter((t) => (lastChange[t.section] ?? t.level) !== t.level);
    check(incons.length === 0, 'operator page: swTileChanges ends at each tile\'s data-level',
        incons.map((t) => `${t.section}: tile ${t.level}, last change ${lastChange[t.section]}`));

    // reconnect misses nothing: swSeen (page B, cut off for 3 s) is every seq, once
    const seenB = B.seen || [];
    check(dups(seenB).length === 0 && setEq(new Set(seenB), allSeqs),
        `after the cut: the proxied page saw every alert exactly once (${seenB.length} of ${allSeqs.size})`,
        [...diffSets(new Set(seenB), allSeqs), `duplicates: ${dups(seenB).join(' ')}`]);
    const seenA = A.seen || [];
    check(dups(seenA).length === 0 && setEq(new Set(seenA), allSeqs),
        `the operator page saw every alert exactly once (${seenA.length} of ${allSeqs.size})`,
        [...diffSets(new Set(seenA), allSeqs), `duplicates: ${dups(seenA).join(' ')}`]);

    // the reload: from its first seq on, every seq once; feed = page A's feed from there
    const seenR = R.seen || [];
    const minR = Math.min(...seenR);
    const wantR = new Set([...allSeqs].filter((s) => s >= minR));
    const afterReload = lines.filter((l) => l.t > reloadedAt).map((l) => l.a.seq);
    check(seenR.length > 0 && afterReload.length > 0 && dups(seenR).length === 0 && setEq(new Set(seenR), wantR) && afterReload.every((s) => wantR.has(s)),
        `after a reload: the page saw every alert from seq ${minR} on exactly once (${seenR.length}; ${afterReload.length} arrived after the reload)`,
        [...diffSets(new Set(seenR), wantR), `duplicates: ${dups(seenR).join(' ')}`]);
    const feedR = R.feed.map((f) => f.seq);
    const feedA = A.feed.map((f) => f.seq);
    const minFR = Math.min(...feedR);
    const feedAfrom = new Set(feedA.filter((s) => s >= minFR));
    const wantFR = new Set([...allSeqs].filter((s) => s >= minFR));
    check(feedR.length > 0 && dups(feedR).length === 0 && setEq(new Set(feedR), feedAfrom) && setEq(new Set(feedR), wantFR),
        `after a reload: the feed's data-seq are every seq from ${minFR} on, once, the same as the never-reloaded page's (${feedR.length} items)`,
        [...diffSets(new Set(feedR), wantFR), `page A's feed from there: ${[...feedAfrom].length} items`, `duplicates: ${dups(feedR).join(' ')}`]);
    const bySeq = new Map(lines.map((l) => [l.a.seq, l.a]));
    const feedBad = A.feed.filter((f) => !bySeq.has(f.seq) || bySeq.get(f.seq).section !== f.section);
    check(A.feed.length > 0 && dups(feedA).length === 0 && feedBad.length === 0 && A.feed.some((f) => f.seq === Math.max(...allSeqs)),
        `operator feed: ${A.feed.length} items, each an alert of the lines with its section, once, the last one included`,
        [`not in the lines or the wrong section: ${JSON.stringify(feedBad.slice(0, 10))}`, `duplicates: ${dups(feedA).join(' ')}`]);

    // the viewer: only its sections, and all of them
    const wantC = new Set(lines.filter((l) => VIEWER_SECTIONS.includes(l.a.section)).map((l) => l.a.seq));
    const seenC = C.seen || [];
    check(dups(seenC).length === 0 && setEq(new Set(seenC), wantC),
        `the viewer saw exactly the alerts of ${VIEWER_SECTIONS.join(',')} (${seenC.length} of ${wantC.size}; ${allSeqs.size} in all)`,
        [...diffSets(new Set(seenC), wantC), `duplicates: ${dups(seenC).join(' ')}`]);
    const foreign = C.feed.filter((f) => !VIEWER_SECTIONS.includes(f.section));
    check(C.feed.length > 0 && foreign.length === 0, `the viewer's feed: ${C.feed.length} items, all of ${VIEWER_SECTIONS.join(',')}`,
        foreign.slice(0, 10).map((f) => JSON.stringify(f)));
    const cEnd = C.tiles.map((t) => t.section);
    check(setEq(new Set(cEnd), new Set(VIEWER_SECTIONS)) && cEnd.length === VIEWER_SECTIONS.length,
        `the viewer still has only its two tiles at the end (${cEnd.join(' ')})`);

    for (const p of [shotReconnecting, ...shots]) note(`screenshot: ${p}`);
}

let exitCode = 0;
try {
    await main();
} catch (e) {
    check(false, 'the e2e script ran to its end', [hideTokens(String(e.stack || e))]);
}
stopDemo();
if (!demoExited) await Promise.race([exitPromise, sleep(20000)]);
alertsOut.end();
errOut.end();
exitCode = failures ? 1 : 0;
process.exit(exitCode);
