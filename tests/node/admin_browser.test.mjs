// The admin page (/v1/admin/) in Debian's headless Chromium, driven by playwright-core
// (no browser download): an editor and a reviewer go through a full review cycle, a
// declined review and a rollback, an edit conflict, hostile record content, keyboard
// only navigation and an axe-core accessibility check. Run by
// tests/integration/test_admin_browser.sh (HERALD_PUB, HERALD_SRV, HERALD_PUBKEY,
// HERALD_ADMIN_SHOTS: the directory for a screenshot of each step).
//
// A failing step says which step, the locator or assertion that failed, the API
// requests that answered >= 400 and the page's console errors, and leaves a screenshot
// "<n>-FAILED-<step>.png".
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const PUB = process.env.HERALD_PUB; // http://127.0.0.1:port/v1
const SRV = process.env.HERALD_SRV;
const SHOTS = process.env.HERALD_ADMIN_SHOTS;
const ADMIN = `${PUB}/admin/`;
const WS = "main-workspace";
const basic = (u, p) => "Basic " + Buffer.from(`${u}:${p}`).toString("base64");
const AUTH = { admin: basic("admin", process.env.HERALD_ADMIN_PASSWORD), editor: basic("editor", "pw-editor"), reviewer: basic("reviewer", "pw-reviewer") };

let browser;
let shot = 0;

async function api(who, method, path, body, headers = {}) {
  const r = await fetch(PUB + path, { method, headers: { Authorization: AUTH[who], "Content-Type": "application/json", ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

// A page with the failure evidence collected as it runs.
async function openPage(name) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(10000);
  page.failedRequests = [];
  page.consoleErrors = [];
  page.dialogs = [];
  page.on("response", (r) => { if (r.status() >= 400) page.failedRequests.push(`${r.request().method()} ${r.url()} -> ${r.status()}`); });
  page.on("console", (m) => { if (m.type() === "error") page.consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => page.consoleErrors.push(`pageerror: ${e.message}`));
  page.on("dialog", (d) => { page.dialogs.push(`${d.type()}: ${d.message()}`); d.dismiss().catch(() => {}); });
  // Counts CSP violations: content the page put in the DOM that tried to run.
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  page.label = name;
  return page;
}

// Runs one step; on failure prints what failed and leaves a screenshot.
async function step(page, name, fn) {
  shot++;
  const file = `${SHOTS}/${String(shot).padStart(2, "0")}-${name.replace(/[^a-z0-9]+/gi, "-").toLowerCase()}.png`;
  const t0 = Date.now();
  try {
    await fn();
    const t1 = Date.now();
    if (SHOTS) await page.screenshot({ path: file, fullPage: true });
    console.log(`ok   - [${page.label}] ${name} (${t1 - t0} ms, screenshot ${Date.now() - t1} ms)`);
  } catch (e) {
    const fail = file.replace(/\/(\d+)-/, "/$1-FAILED-");
    if (SHOTS) await page.screenshot({ path: fail, fullPage: true }).catch(() => {});
    const err = await page.locator("#error").textContent().catch(() => "");
    console.log(`FAIL - [${page.label}] ${name}: ${e.message.split("\n").slice(0, 6).join("\n       ")}`);
    console.log(`       page ${page.url()}; #error: ${JSON.stringify(err)}`);
    console.log(`       requests >= 400: ${JSON.stringify(page.failedRequests.slice(-5))}`);
    console.log(`       console errors: ${JSON.stringify(page.consoleErrors.slice(-5))}`);
    console.log(`       screenshot: ${fail}`);
    throw e;
  }
}

async function signInAs(page, user) {
  await step(page, `${user} signs in`, async () => {
    await page.goto(ADMIN);
    await page.getByLabel("Account").fill(user);
    await page.getByLabel("Password").fill(`pw-${user}`);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Buckets" }).waitFor();
    assert.equal(await page.locator("#user-id").textContent(), `Signed in as account:${user}`);
    const stored = await page.evaluate(() => Object.keys(sessionStorage).join());
    assert.equal(stored, "herald.admin.auth", "credentials in sessionStorage only");
    assert.equal(await page.evaluate(() => localStorage.length), 0);
    assert.ok(!page.url().includes("pw-"), "no password in the URL");
  });
}

async function createRecord(page, id, json) {
  await step(page, `create record ${id}`, async () => {
    await page.goto(`${ADMIN}#/b/${WS}/c/crl/r/_new`);
    await page.getByLabel("Id").fill(id);
    await page.getByLabel("Data (JSON)").fill(json);
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await page.getByRole("heading", { name: `Record ${id}` }).waitFor();
  });
}

async function servedIds(bucket, cid, count) {
  const url = `${SRV}/buckets/${bucket}/collections/${cid}/changeset`;
  for (let i = 0; i < 200; i++) {
    const r = await fetch(url);
    if (r.status === 200) {
      const body = await r.json();
      if (body.changes.length === count) return { url, body };
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`${url} never served ${count} records`);
}

before(async () => {
  browser = await chromium.launch({ executablePath: process.env.HERALD_CHROMIUM || "/usr/bin/chromium", args: ["--no-sandbox"] });
  for (const u of ["editor", "reviewer"]) {
    const r = await fetch(`${PUB}/accounts/${u}`, { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ data: { password: `pw-${u}` } }) });
    assert.equal(r.status, 201);
  }
  assert.equal((await api("admin", "PUT", `/buckets/${WS}`, { permissions: { write: ["account:editor"] } })).status, 201);
});

after(async () => {
  if (browser) await browser.close();
});

test("full cycle: editor creates and requests review, reviewer sees the diff and approves, the read server serves it signed", async () => {
  const ed = await openPage("editor");
  await signInAs(ed, "editor");
  await step(ed, "editor creates collection crl", async () => {
    await ed.getByRole("link", { name: WS, exact: true }).click();
    await ed.getByRole("heading", { name: `Bucket ${WS}` }).waitFor();
    await ed.getByLabel("Collection id").fill("crl");
    await ed.getByRole("button", { name: "Create collection" }).click();
    await ed.getByRole("heading", { name: "Collection crl" }).waitFor();
    assert.equal(await ed.locator("#review-status").textContent(), "signed");
  });
  await createRecord(ed, "serial-1", '{"serial": 1, "issuer": "CA one"}');
  await createRecord(ed, "serial-2", '{"serial": 2, "issuer": "CA two"}');
  const file = randomBytes(3 * 1024 * 1024);
  const fileHash = createHash("sha256").update(file).digest("hex");
  await step(ed, "editor uploads an attachment with a progress bar", async () => {
    await ed.goto(`${ADMIN}#/b/${WS}/c/crl/r/serial-1`);
    await ed.getByRole("heading", { name: "Record serial-1" }).waitFor();
    await ed.getByLabel("File").setInputFiles({ name: "serial-1.pem", mimeType: "application/x-pem-file", buffer: file });
    await ed.getByRole("button", { name: "Upload" }).click();
    await ed.locator("#status").getByText("Uploaded serial-1.pem").waitFor();
    // The progress bar followed the upload to its end (the body is the file and the
    // multipart framing).
    const [sent, total] = (await ed.locator("#status").textContent()).match(/\((\d+) of (\d+) bytes sent\)/).slice(1).map(Number);
    assert.ok(sent === total && total > file.length, `progress ${sent}/${total}`);
    await ed.locator("#attachment-hash").waitFor();
    assert.equal(await ed.locator("#attachment-hash").textContent(), fileHash);
    const rec = await api("editor", "GET", `/buckets/${WS}/collections/crl/records/serial-1`);
    assert.equal(rec.body.data.attachment.size, file.length);
    assert.equal(rec.body.data.attachment.hash, fileHash);
    assert.equal(await ed.locator("#attachment-link").getAttribute("href"), `${SRV.replace(/\/v1$/, "")}/attachments/${rec.body.data.attachment.location}`);
  });
  await step(ed, "editor adds the reviewer to crl-reviewers (group members editor)", async () => {
    await ed.goto(`${ADMIN}#/b/${WS}`);
    await ed.getByRole("link", { name: "crl-reviewers" }).click();
    await ed.getByRole("heading", { name: "Group crl-reviewers" }).waitFor();
    // A principal that is not one is refused by the page, before any request.
    await ed.getByLabel("Add to members").fill("not a principal");
    await ed.locator("#members-add-button").click();
    await ed.locator("#members-note").getByText("Not a principal").waitFor();
    await ed.getByLabel("Add to members").fill("account:reviewer");
    await ed.getByLabel("Add to members").press("Enter");
    await ed.locator("#members-list").getByText("account:reviewer").waitFor();
    assert.equal(await ed.locator("#members-dirty").textContent(), "Unsaved changes.");
    await ed.getByRole("button", { name: "Save members" }).click();
    await ed.locator("#status").getByText("Members saved.").waitFor();
    const g = await api("editor", "GET", `/buckets/${WS}/groups/crl-reviewers`);
    assert.deepEqual(g.body.data.members, ["account:reviewer"]);
    assert.ok(ed.failedRequests.every((r) => !r.includes("/groups/")), "no refused group write");
  });
  await step(ed, "editor requests review", async () => {
    await ed.goto(`${ADMIN}#/b/${WS}/c/crl`);
    await ed.locator("#records").getByRole("link", { name: "serial-2" }).waitFor();
    assert.equal(await ed.locator("#review-status").textContent(), "work-in-progress");
    await ed.getByLabel("Comment").fill("two new serials");
    await ed.getByRole("button", { name: "Request review" }).click();
    await ed.locator("#review-status").getByText("to-review").waitFor();
  });
  await step(ed, "an editor cannot approve (the server's Kinto message is shown)", async () => {
    await ed.getByRole("button", { name: "Approve" }).click();
    await ed.locator("#error").getByText("403: Not in crl-reviewers group").waitFor();
    assert.equal(await ed.locator("#review-status").textContent(), "to-review");
  });

  const rv = await openPage("reviewer");
  await signInAs(rv, "reviewer");
  await step(rv, "reviewer finds the collection and sees exactly the changed records", async () => {
    await rv.locator("#your-collections").getByRole("link", { name: `${WS}/crl` }).click();
    await rv.getByRole("heading", { name: "Collection crl" }).waitFor();
    assert.equal(await rv.locator("#editor-comment").textContent(), "two new serials");
    await rv.getByRole("link", { name: "Changes against the published collection" }).click();
    await rv.locator("#diff-counts").waitFor();
    assert.match(await rv.locator("#diff-counts").textContent(), /^2 added0 changed0 removed/);
    assert.deepEqual(await rv.locator("#diff article").evaluateAll((as) => as.map((a) => a.dataset.id)), ["serial-1", "serial-2"]);
    const fields = await rv.locator('#diff article[data-id="serial-1"] .diff-field code').allTextContents();
    assert.deepEqual(fields, ["attachment", "issuer", "serial"]);
    assert.equal(await rv.locator('#diff article[data-id="serial-1"] .after').nth(1).textContent(), '"CA one"');
  });
  await step(rv, "reviewer approves", async () => {
    await rv.getByRole("link", { name: "Back to the collection" }).click();
    await rv.getByRole("button", { name: "Approve" }).click();
    await rv.locator("#review-status").getByText("signed").waitFor();
  });
  const { url, body } = await servedIds("main", "crl", 2);
  assert.deepEqual(body.changes.map((r) => r.id).sort(), ["serial-1", "serial-2"]);
  const verify = spawnSync(process.execPath, [fileURLToPath(new URL("./verify_snapshot.js", import.meta.url)), "--url", url, "--public-key", process.env.HERALD_PUBKEY], { encoding: "utf8" });
  assert.match(verify.stdout, /^OK bucket=main collection=crl /, verify.stdout + verify.stderr);
  console.log("ok   - the read server serves the approved version and verify_snapshot.js accepts it");
  const cli = spawnSync(process.env.HERALD_CLI, ["verify", "--url", url, "--public-key", process.env.HERALD_PUBKEY], { encoding: "utf8" });
  assert.equal(cli.status, 0, cli.stdout + cli.stderr);
  assert.match(cli.stdout, /^OK bucket=main collection=crl /, cli.stdout + cli.stderr);
  console.log("ok   - and `herald verify` accepts it");
  await step(rv, "the attachment downloads from the read server, byte for byte", async () => {
    await rv.goto(`${ADMIN}#/b/main/c/crl/r/serial-1`);
    const href = await rv.locator("#attachment-link").getAttribute("href");
    const got = Buffer.from(await (await fetch(href)).arrayBuffer());
    assert.equal(createHash("sha256").update(got).digest("hex"), fileHash);
  });
  await step(rv, "the published collection shows what clients get", async () => {
    await rv.goto(`${ADMIN}#/b/main/c/crl`);
    await rv.getByRole("heading", { name: "Collection crl" }).waitFor();
    await rv.locator("#served-current").waitFor();
    assert.equal(await rv.locator("#served-current").textContent(), "yes: the read server serves the current version");
    assert.equal(await rv.locator("#served-version").textContent(), `${body.timestamp} (${new Date(body.timestamp).toISOString()})`);
    assert.equal(await rv.locator("#served-keys").textContent(), body.metadata.signatures.map((x) => x.key_id).join(", "));
    assert.match(await rv.locator("#served-expires").textContent(), /^\d{4}-\d\d-\d\dT/);
  });

  // ---- a change, a declined review, a rollback ----
  await step(ed, "editor changes one field and requests review", async () => {
    await ed.goto(`${ADMIN}#/b/${WS}/c/crl/r/serial-1`);
    await ed.getByRole("heading", { name: "Record serial-1" }).waitFor();
    await ed.getByLabel("Data (JSON)").fill('{"serial": 1, "issuer": "CA one, renamed"}');
    await ed.getByRole("button", { name: "Save", exact: true }).click();
    await ed.locator("#status").getByText("Saved").waitFor();
    const rec = await api("editor", "GET", `/buckets/${WS}/collections/crl/records/serial-1`);
    assert.equal(rec.body.data.attachment.hash, fileHash, "the JSON editor keeps the attachment");
    await ed.goto(`${ADMIN}#/b/${WS}/c/crl`);
    await ed.getByLabel("Comment").fill("rename");
    await ed.getByRole("button", { name: "Request review" }).click();
    await ed.locator("#review-status").getByText("to-review").waitFor();
  });
  await step(rv, "reviewer sees one changed field and declines", async () => {
    await rv.goto(`${ADMIN}#/b/${WS}/c/crl/review`);
    await rv.locator("#diff-counts").waitFor();
    assert.match(await rv.locator("#diff-counts").textContent(), /^0 added1 changed0 removed/);
    const fields = await rv.locator('#diff article[data-id="serial-1"] .diff-field code').allTextContents();
    assert.deepEqual(fields, ["issuer"], "only the changed field is listed");
    await rv.goto(`${ADMIN}#/b/${WS}/c/crl`);
    await rv.getByLabel("Comment").fill("keep the old name");
    await rv.getByRole("button", { name: "Decline" }).click();
    await rv.locator("#review-status").getByText("work-in-progress").waitFor();
  });
  await step(ed, "editor sees the decline and rolls back", async () => {
    await ed.goto(`${ADMIN}#/b/${WS}/c/crl`);
    await ed.reload();
    await ed.locator("#reviewer-comment").getByText("keep the old name").waitFor();
    await ed.getByRole("button", { name: "Roll back changes" }).click();
    await ed.locator("#review-status").getByText("signed").waitFor();
    const r = await api("editor", "GET", `/buckets/${WS}/collections/crl/records/serial-1`);
    assert.equal(r.body.data.issuer, "CA one");
  });

  // ---- a conflict is shown, not overwritten ----
  await step(ed, "an edit conflict (412) is shown and nothing is overwritten", async () => {
    await ed.goto(`${ADMIN}#/b/${WS}/c/crl/r/serial-2`);
    await ed.getByRole("heading", { name: "Record serial-2" }).waitFor();
    const other = await api("admin", "PATCH", `/buckets/${WS}/collections/crl/records/serial-2`, { data: { issuer: "changed elsewhere" } });
    assert.equal(other.status, 200);
    await ed.getByLabel("Data (JSON)").fill('{"serial": 2, "issuer": "mine"}');
    await ed.getByRole("button", { name: "Save", exact: true }).click();
    await ed.locator("#editor-errors").getByText("Conflict").waitFor();
    assert.match(await ed.locator("#editor-current").textContent(), /changed elsewhere/);
    const now = await api("admin", "GET", `/buckets/${WS}/collections/crl/records/serial-2`);
    assert.equal(now.body.data.issuer, "changed elsewhere");
    assert.ok(ed.failedRequests.some((r) => r.endsWith("-> 412")), "the save was sent with If-Match and refused");
  });
  await step(ed, "invalid JSON and a server refusal are shown at the editor", async () => {
    await ed.reload();
    await ed.getByRole("heading", { name: "Record serial-2" }).waitFor();
    await ed.getByLabel("Data (JSON)").fill('{"serial": 2,, }');
    await ed.getByRole("button", { name: "Save", exact: true }).click();
    await ed.locator("#editor-errors").getByText("Not JSON").waitFor();
    // I-JSON: what JSON.parse would quietly change is sent as typed, and Herald's
    // error is shown at the field (a JSON Pointer) or the line and column it concerns.
    await ed.getByLabel("Data (JSON)").fill('{"serial": 2,\n "big": {"n": 1e400}}');
    await ed.getByRole("button", { name: "Save", exact: true }).click();
    await ed.locator("#editor-errors").getByText(/^400: /).waitFor();
    const where1 = await ed.locator("#editor-error-at").textContent();
    await ed.getByLabel("Data (JSON)").fill('{"serial": 2,\n "dup": 1, "dup": 2}');
    await ed.getByRole("button", { name: "Save", exact: true }).click();
    await ed.locator("#editor-errors").getByText(/duplicate|Duplicate/).waitFor();
    const where2 = await ed.locator("#editor-error-at").textContent();
    console.log(`       (1e400: ${where1}; duplicate key: ${where2})`);
    assert.match(where1 + where2, /big|line 2/);
    const now = await api("admin", "GET", `/buckets/${WS}/collections/crl/records/serial-2`);
    assert.equal(now.body.data.issuer, "changed elsewhere", "nothing saved");
  });
  assert.deepEqual(ed.dialogs, []);
  assert.deepEqual(rv.dialogs, []);
});

// The history of the bucket's objects as the API answers it: the Total-Records of a
// query, to compare with what a history screen says.
async function historyTotal(query) {
  const r = await fetch(`${PUB}/buckets/${WS}/history?${query}`, { headers: { Authorization: AUTH.editor } });
  assert.equal(r.status, 200, `history?${query}`);
  return Number(r.headers.get("Total-Records"));
}

// Submits the history filters and waits for the table they asked for (the old one is
// marked, the screen draws a new one).
async function filterHistory(page) {
  await page.locator("#history").evaluate((el) => { el.dataset.stale = "1"; });
  await page.getByRole("button", { name: "Filter" }).click();
  await page.locator("#history:not([data-stale]) #history-count").waitFor();
  return {
    total: Number((await page.locator("#history-count").textContent()).match(/of (\d+)/)?.[1] ?? 0),
    rows: await page.locator("#history tbody tr").evaluateAll((trs) => trs.map((tr) => Array.from(tr.cells).slice(0, 4).map((td) => td.textContent))),
  };
}

// A time as a datetime-local field takes it (the browser's time zone, which is this
// process's: same machine).
function localTime(ms) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

test("history per collection and record with filters, permissions and members editors, accounts", async () => {
  const ed = await openPage("editor-2");
  await signInAs(ed, "editor");
  await step(ed, "collection history: only the collection and its records, filtered by action and type", async () => {
    await ed.goto(`${ADMIN}#/b/${WS}/c/crl`);
    await ed.getByRole("link", { name: "History of this collection" }).click();
    await ed.getByRole("heading", { name: "History of collection crl" }).waitFor();
    await ed.locator("#history-count").waitFor();
    const all = await filterHistory(ed);
    assert.equal(all.total, await historyTotal("collection_id=crl"));
    assert.ok(all.rows.length > 5 && all.rows.every((r) => r[3].startsWith(`/buckets/${WS}/collections/crl`)), JSON.stringify(all.rows));
    await ed.getByLabel("Action").selectOption("update");
    const upd = await filterHistory(ed);
    assert.equal(upd.total, await historyTotal("collection_id=crl&action=update"));
    assert.ok(upd.rows.length > 0 && upd.rows.every((r) => r[2] === "update"));
    await ed.getByLabel("Object type").selectOption("collection");
    const coll = await filterHistory(ed);
    assert.equal(coll.total, await historyTotal("collection_id=crl&action=update&resource_name=collection"));
    assert.ok(coll.rows.length > 0 && coll.rows.every((r) => r[3] === `/buckets/${WS}/collections/crl` && r[2] === "update"));
    await ed.getByLabel("Object type").selectOption("");
    await ed.getByLabel("Action").selectOption("");
    await ed.getByLabel("User").fill("account:reviewer");
    const byReviewer = await filterHistory(ed);
    assert.equal(byReviewer.total, await historyTotal("collection_id=crl&user_id=account:reviewer"));
    assert.ok(byReviewer.rows.every((r) => r[1] === "account:reviewer"));
  });
  await step(ed, "record history: every change of serial-1, nothing else", async () => {
    await ed.goto(`${ADMIN}#/b/${WS}/c/crl/r/serial-1`);
    await ed.getByRole("link", { name: "History of this record" }).click();
    await ed.getByRole("heading", { name: "History of record serial-1" }).waitFor();
    await ed.locator("#history-count").waitFor();
    const rows = await ed.locator("#history tbody tr").evaluateAll((trs) => trs.map((tr) => [tr.cells[2].textContent, tr.cells[3].textContent]));
    const total = await historyTotal("collection_id=crl&record_id=serial-1&resource_name=record");
    assert.equal(rows.length, total);
    assert.ok(rows.every(([, uri]) => uri === `/buckets/${WS}/collections/crl/records/serial-1`));
    // Created, given an attachment, renamed, rolled back: newest first.
    assert.equal(rows[rows.length - 1][0], "create");
    assert.ok(rows.filter(([a]) => a === "update").length >= 3, JSON.stringify(rows));
  });
  await step(ed, "bucket history between two times (_since, _before)", async () => {
    await ed.goto(`${ADMIN}#/b/${WS}/history`);
    await ed.getByRole("heading", { name: `History of bucket ${WS}` }).waitFor();
    const r = await fetch(`${PUB}/buckets/${WS}/history?_sort=last_modified&_fields=last_modified`, { headers: { Authorization: AUTH.editor } });
    const lms = (await r.json()).data.map((e) => e.last_modified);
    // Whole seconds (what the fields take): after the first entry's second, before the
    // last one's: some entries, not all (the cycle above took several seconds).
    const since = (Math.floor(lms[0] / 1000) + 1) * 1000;
    const before = Math.floor(lms[lms.length - 1] / 1000) * 1000;
    await ed.getByLabel("Changed after (local time)").fill(localTime(since));
    await ed.getByLabel("Changed before (local time)").fill(localTime(before));
    const got = await filterHistory(ed);
    const want = lms.filter((t) => t > since && t < before).length;
    assert.equal(got.total, want);
    assert.equal(want, await historyTotal(`_since=${since}&_before=${before}`));
    assert.ok(want > 0 && want < lms.length, `${want} of ${lms.length}`);
  });
  await step(ed, "history paging: 61 entries are two pages, there and back", async () => {
    assert.equal((await api("editor", "PUT", `/buckets/${WS}/collections/bulk`, { data: {} })).status, 201);
    for (let b = 0; b < 3; b++) {
      const requests = Array.from({ length: 20 }, (_, i) => ({ method: "PUT", path: `/buckets/${WS}/collections/bulk/records/r${b * 20 + i}`, body: { data: { n: b * 20 + i } } }));
      const r = await api("editor", "POST", "/batch", { requests });
      assert.ok(r.status === 200 && r.body.responses.every((x) => x.status === 201), JSON.stringify(r.body).slice(0, 300));
    }
    await ed.goto(`${ADMIN}#/b/${WS}/c/bulk/history`);
    await ed.getByRole("heading", { name: "History of collection bulk" }).waitFor();
    await ed.locator("#history-count").getByText("50 shown of 61, page 1").waitFor();
    const first = await ed.locator("#history tbody tr td:nth-child(4)").allTextContents();
    await ed.getByRole("button", { name: "Next page" }).click();
    await ed.locator("#history-count").getByText("11 shown of 61, page 2").waitFor();
    const second = await ed.locator("#history tbody tr td:nth-child(4)").allTextContents();
    assert.equal(new Set([...first, ...second]).size, 61, "every entry once");
    assert.equal(second[second.length - 1], `/buckets/${WS}/collections/bulk`, "the oldest, the collection's creation, last");
    await ed.getByRole("button", { name: "Previous page" }).click();
    await ed.locator("#history-count").getByText("50 shown of 61, page 1").waitFor();
    assert.deepEqual(await ed.locator("#history tbody tr td:nth-child(4)").allTextContents(), first);
  });
  await step(ed, "a group created and deleted from its screen", async () => {
    await ed.goto(`${ADMIN}#/b/${WS}`);
    await ed.getByLabel("Group id").fill("tmp-group");
    await ed.getByRole("button", { name: "Create group" }).click();
    await ed.getByRole("heading", { name: "Group tmp-group" }).waitFor();
    assert.equal(await ed.locator("#group-principal").textContent(), `/buckets/${WS}/groups/tmp-group`);
    await ed.getByRole("button", { name: "Delete group" }).click();
    await ed.getByRole("button", { name: "Really delete group?" }).click();
    await ed.getByRole("heading", { name: `Bucket ${WS}` }).waitFor();
    await ed.locator("#status").getByText("Group tmp-group deleted.").waitFor();
    assert.equal((await api("editor", "GET", `/buckets/${WS}/groups/tmp-group`)).status, 404);
  });
  await step(ed, "permissions editor: grant and revoke read on a collection (If-Match)", async () => {
    await ed.goto(`${ADMIN}#/b/${WS}/c/crl`);
    await ed.getByRole("heading", { name: "Collection crl" }).waitFor();
    const statusBefore = await ed.locator("#review-status").textContent();
    await ed.getByLabel("Add to read", { exact: true }).fill("account:auditor");
    await ed.locator("#perm-read-add-button").click();
    await ed.locator("#perm-read-list").getByText("account:auditor").waitFor();
    await ed.getByRole("button", { name: "Save permissions" }).click();
    await ed.locator("#status").getByText("Permissions saved.").waitFor();
    let c = await api("editor", "GET", `/buckets/${WS}/collections/crl`);
    assert.deepEqual(c.body.permissions.read, ["account:auditor"]);
    assert.equal(c.body.data.status, statusBefore, "a permissions change leaves the review status");
    await ed.locator("#perm-read-list").getByText("account:auditor").waitFor();
    await ed.getByRole("button", { name: "Remove account:auditor from read" }).click();
    await ed.getByRole("button", { name: "Save permissions" }).click();
    await ed.locator("#status").getByText("Permissions saved.").waitFor();
    c = await api("editor", "GET", `/buckets/${WS}/collections/crl`);
    assert.equal((c.body.permissions.read || []).length, 0);
    assert.ok(c.body.permissions.write.includes("/buckets/main-workspace/groups/crl-reviewers"), "the other permissions are kept");
  });
  await step(ed, "permissions conflict: shown next to the unsaved edit, nothing overwritten", async () => {
    await ed.goto(`${ADMIN}#/b/${WS}`);
    await ed.getByRole("heading", { name: `Bucket ${WS}` }).waitFor();
    await ed.locator("#permissions-save").waitFor();
    const other = await api("admin", "PATCH", `/buckets/${WS}`, { permissions: { read: ["account:someone-else"] } });
    assert.equal(other.status, 200);
    await ed.getByLabel("Add to read", { exact: true }).fill("system.Authenticated");
    await ed.getByLabel("Add to read", { exact: true }).press("Enter");
    await ed.getByRole("button", { name: "Save permissions" }).click();
    await ed.locator("#permissions-conflict").waitFor();
    assert.match(await ed.locator("#permissions-server").textContent(), /account:someone-else/);
    assert.match(await ed.locator("#permissions-mine").textContent(), /system\.Authenticated/);
    const now = await api("admin", "GET", `/buckets/${WS}`);
    assert.deepEqual(now.body.permissions.read, ["account:someone-else"], "nothing overwritten");
    assert.ok(ed.failedRequests.some((r) => r.startsWith("PATCH") && r.endsWith("-> 412")), "sent with If-Match and refused");
  });
  await step(ed, "after a conflict, the edit starts again from the server's version", async () => {
    await ed.getByRole("button", { name: "Start again from the server's version" }).click();
    await ed.locator("#perm-read-list").getByText("account:someone-else").waitFor();
    await ed.getByRole("button", { name: "Remove account:someone-else from read" }).click();
    await ed.getByRole("button", { name: "Save permissions" }).click();
    await ed.locator("#status").getByText("Permissions saved.").waitFor();
    const now = await api("admin", "GET", `/buckets/${WS}`);
    assert.equal((now.body.permissions.read || []).length, 0);
  });
  await step(ed, "group members conflict is shown, not overwritten", async () => {
    await ed.goto(`${ADMIN}#/b/${WS}/g/crl-reviewers`);
    await ed.getByRole("heading", { name: "Group crl-reviewers" }).waitFor();
    const other = await api("admin", "PATCH", `/buckets/${WS}/groups/crl-reviewers`, { data: { members: ["account:reviewer", "account:other"] } });
    assert.equal(other.status, 200);
    await ed.getByRole("button", { name: "Remove account:reviewer from members" }).click();
    await ed.getByRole("button", { name: "Save members" }).click();
    await ed.locator("#members-conflict").waitFor();
    assert.match(await ed.locator("#members-server").textContent(), /account:other/);
    const g = await api("admin", "GET", `/buckets/${WS}/groups/crl-reviewers`);
    assert.deepEqual(g.body.data.members, ["account:reviewer", "account:other"]);
  });

  const ad = await openPage("admin");
  await step(ad, "admin creates an account on the accounts screen", async () => {
    await ad.goto(ADMIN);
    await ad.getByLabel("Account").fill("admin");
    await ad.getByLabel("Password").fill(process.env.HERALD_ADMIN_PASSWORD);
    await ad.getByRole("button", { name: "Sign in" }).click();
    await ad.getByRole("heading", { name: "Buckets" }).waitFor();
    await ad.locator("#accounts-link").click();
    await ad.getByRole("heading", { name: "Accounts", exact: true }).waitFor();
    assert.match(await ad.locator("#my-account").textContent(), /built-in admin/);
    await ad.getByLabel("Account id").fill("carol");
    await ad.locator("#new-account-password").fill("pw-carol");
    await ad.getByRole("button", { name: "Create account" }).click();
    await ad.locator("#status").getByText("Account carol created.").waitFor();
    await ad.locator("#accounts").getByRole("link", { name: "carol" }).waitFor();
    const r = await fetch(`${PUB}/`, { headers: { Authorization: basic("carol", "pw-carol") } });
    assert.equal((await r.json()).user.id, "account:carol");
  });
  await step(ed, "an editor may not create an account for someone else: the publisher's refusal is shown", async () => {
    await ed.goto(`${ADMIN}#/accounts`);
    await ed.getByRole("heading", { name: "Accounts", exact: true }).waitFor();
    await ed.getByLabel("Account id").fill("mallory");
    await ed.locator("#new-account-password").fill("pw-mallory");
    await ed.getByRole("button", { name: "Create account" }).click();
    await ed.locator("#error").getByText(/^400: .*cannot create other account/).waitFor();
    assert.deepEqual(await ed.locator("#accounts tbody a").allTextContents(), ["editor"], "an editor sees only their own account");
  });
  const ca = await openPage("carol");
  await step(ca, "carol changes her own password", async () => {
    await ca.goto(ADMIN);
    await ca.getByLabel("Account").fill("carol");
    await ca.getByLabel("Password").fill("pw-carol");
    await ca.getByRole("button", { name: "Sign in" }).click();
    await ca.getByRole("heading", { name: "Buckets" }).waitFor();
    await ca.getByRole("link", { name: "Accounts" }).first().click();
    await ca.getByRole("heading", { name: "Change your password" }).waitFor();
    await ca.getByLabel("New password", { exact: true }).fill("pw-carol-2");
    await ca.getByLabel("New password again").fill("pw-carol-typo");
    await ca.getByRole("button", { name: "Set password" }).click();
    await ca.locator("#error").getByText("The two passwords differ.").waitFor();
    await ca.getByLabel("New password", { exact: true }).fill("pw-carol-2");
    await ca.getByLabel("New password again").fill("pw-carol-2");
    await ca.getByRole("button", { name: "Set password" }).click();
    await ca.locator("#status").getByText("Password changed.").waitFor();
    assert.ok(ca.failedRequests.every((r) => !r.includes("/accounts/")), JSON.stringify(ca.failedRequests));
    const old = await fetch(`${PUB}/`, { headers: { Authorization: basic("carol", "pw-carol") } });
    assert.equal((await old.json()).user, undefined, "the old password no longer works");
  });
  await step(ca, "the tab goes on with the new password", async () => {
    // The session holds the new password: the next screens still load.
    await ca.locator("#crumbs").getByRole("link", { name: "Buckets" }).click();
    await ca.getByRole("heading", { name: "Buckets" }).waitFor();
    await ca.waitForLoadState("networkidle");
    assert.equal(await ca.locator("#error").textContent(), "");
    assert.equal(await ca.locator("#user-id").textContent(), "Signed in as account:carol");
    assert.equal(await ca.evaluate(() => Object.keys(sessionStorage).join()), "herald.admin.auth");
    assert.ok(!(await ca.evaluate(() => JSON.stringify(localStorage) + location.href)).includes("pw-carol"));
  });
  await step(ad, "admin sets another account's password, then deletes it", async () => {
    await ad.goto(`${ADMIN}#/accounts`);
    await ad.locator("#accounts").getByRole("link", { name: "carol" }).click();
    await ad.getByRole("heading", { name: "Account carol" }).waitFor();
    await ad.getByLabel("New password", { exact: true }).fill("pw-carol-3");
    await ad.getByLabel("New password again").fill("pw-carol-3");
    await ad.getByRole("button", { name: "Set password" }).click();
    await ad.locator("#status").getByText("Password of carol set.").waitFor();
    const r = await fetch(`${PUB}/`, { headers: { Authorization: basic("carol", "pw-carol-3") } });
    assert.equal((await r.json()).user.id, "account:carol");
    await ad.getByRole("button", { name: "Delete account" }).click();
    await ad.getByRole("button", { name: "Really delete account?" }).click();
    await ad.getByRole("heading", { name: "Accounts", exact: true }).waitFor();
    await ad.locator("#status").getByText("Account carol deleted.").waitFor();
    assert.equal((await api("admin", "GET", "/accounts/carol")).status, 404);
    assert.ok(ad.failedRequests.every((x) => !x.includes("/accounts/")), JSON.stringify(ad.failedRequests));
  });
  assert.deepEqual(ed.dialogs, []);
});

test("hostile record content is shown as text and never runs", async () => {
  const payloads = {
    script: "<script>window.__xss='script'</script>",
    img: "<img src=x onerror=\"window.__xss='img';alert(1)\">",
    js: "javascript:window.__xss='js';alert(2)",
    nested: { "<svg onload=alert(3)>": "</pre><b>bold</b>" },
  };
  // A principal is any string to the publisher: the permissions editor shows it as text.
  const principal = "account:<b onmouseover=alert(4)>perm</b>";
  const put = await api("editor", "PUT", `/buckets/${WS}/collections/crl/records/xss`, { data: payloads, permissions: { read: [principal] } });
  assert.equal(put.status, 201);
  const page = await openPage("xss");
  await signInAs(page, "editor");
  for (const [name, route] of [["records list", `#/b/${WS}/c/crl`], ["record editor", `#/b/${WS}/c/crl/r/xss`], ["review diff", `#/b/${WS}/c/crl/review`],
    ["history", `#/b/${WS}/history`], ["record history", `#/b/${WS}/c/crl/r/xss/history`]]) {
    await step(page, `payloads inert in the ${name}`, async () => {
      await page.goto(ADMIN + route);
      await page.locator("h1").waitFor();
      await page.waitForLoadState("networkidle");
      if (name.endsWith("history")) await page.locator("#history details").first().evaluate((d) => { d.open = true; });
      const text = await page.locator("#view").evaluate((v) => v.innerText + "\n" + Array.from(v.querySelectorAll("textarea")).map((t) => t.value).join("\n"));
      for (const needle of ["<script>window.__xss='script'</script>", "<img src=x onerror=", "javascript:window.__xss='js'"]) {
        assert.ok(text.includes(needle) || text.includes(JSON.stringify(needle).slice(1, -1)), `${needle} shown as text`);
      }
      if (name === "record editor") assert.equal(await page.locator("#perm-read-list code").textContent(), principal, "the principal shown as text");
      assert.equal(await page.locator("#view img, #view script, #view svg, #view b").count(), 0, "no element made from record content");
      assert.equal(await page.evaluate(() => window.__xss), undefined, "no payload ran");
      assert.deepEqual(await page.evaluate(() => window.__cspViolations), [], "nothing even tried to run");
      assert.deepEqual(page.dialogs, [], "no dialog");
    });
  }
  assert.equal((await api("editor", "DELETE", `/buckets/${WS}/collections/crl/records/xss`)).status, 200);
});

test("keyboard only: sign in, open a bucket, a collection, a record, its history, the accounts, edit a group", async () => {
  const page = await openPage("keyboard");
  await step(page, "keyboard: sign in", async () => {
    await page.goto(ADMIN);
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await tabTo(page, { id: "login-user" });
    await page.keyboard.type("editor");
    await page.keyboard.press("Tab");
    await page.keyboard.type("pw-editor");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Buckets" }).waitFor();
  });
  for (const [link, heading] of [[WS, `Bucket ${WS}`], ["crl", "Collection crl"], ["serial-1", "Record serial-1"],
    ["History of this record", "History of record serial-1"], ["Accounts", "Accounts"]]) {
    await step(page, `keyboard: open ${link}`, async () => {
      await tabTo(page, { link });
      await page.keyboard.press("Enter");
      await page.getByRole("heading", { name: heading, exact: true }).waitFor();
      // Once the screen has loaded, focus moves to its heading (screen readers announce it).
      await page.waitForFunction(() => document.activeElement.tagName === "H1");
    });
  }
  await step(page, "keyboard: a group's members and permissions editors", async () => {
    await page.goto(`${ADMIN}#/b/${WS}`);
    await page.getByRole("heading", { name: `Bucket ${WS}` }).waitFor();
    await page.waitForFunction(() => document.activeElement.tagName === "H1");
    await tabTo(page, { link: "crl-reviewers" });
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Group crl-reviewers" }).waitFor();
    await page.waitForFunction(() => document.activeElement.tagName === "H1");
    await tabTo(page, { id: "members-add" });
    await page.keyboard.type("account:kb");
    await page.keyboard.press("Enter");
    await page.locator("#members-list").getByText("account:kb").waitFor();
    await tabTo(page, { label: "Remove account:kb from members" });
    await page.keyboard.press("Enter");
    assert.equal(await page.locator("#members-list").getByText("account:kb").count(), 0);
    assert.equal(await page.evaluate(() => document.activeElement.id), "members-add", "focus stays in the editor");
    await tabTo(page, { id: "members-save" });
    await tabTo(page, { id: "perm-read-add" });
    await tabTo(page, { id: "permissions-save" });
  });
});

// Presses Tab until the focused element is 'want' ({id}, {label}: an aria-label, or
// {link}: a link of the screen, not the breadcrumb, with that text), at most 60 times.
async function tabTo(page, want) {
  for (let i = 0; i < 60; i++) {
    await page.keyboard.press("Tab");
    const ok = await page.evaluate(({ id, label, link }) => {
      const el = document.activeElement;
      if (id) return el.id === id;
      if (label) return el.getAttribute("aria-label") === label;
      return el.tagName === "A" && el.textContent === link && !el.closest("#crumbs");
    }, want);
    if (ok) return;
  }
  throw new Error(`Tab never reached ${JSON.stringify(want)}`);
}

test("axe-core: no serious or critical accessibility violations on the main screens", async () => {
  const require = createRequire(import.meta.url);
  const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
  const page = await openPage("axe");
  const check = async (name) => step(page, `axe: ${name}`, async () => {
    // Evaluated through the DevTools protocol, not a <script>: the page's CSP stays on.
    // Once per page load (the screens change the hash, not the page).
    if (!(await page.evaluate(() => !!window.axe))) await page.evaluate(axeSource);
    const res = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
    const bad = res.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    assert.deepEqual(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`), []);
  });
  await page.goto(ADMIN);
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await check("sign in");
  await signInAs(page, "editor");
  await check("buckets");
  for (const [name, route, heading] of [["bucket", `#/b/${WS}`, `Bucket ${WS}`], ["collection", `#/b/${WS}/c/crl`, "Collection crl"],
    ["record editor", `#/b/${WS}/c/crl/r/serial-1`, "Record serial-1"], ["review diff", `#/b/${WS}/c/crl/review`, "Changes in crl"],
    ["history", `#/b/${WS}/history`, `History of bucket ${WS}`], ["collection history", `#/b/${WS}/c/crl/history`, "History of collection crl"],
    ["record history", `#/b/${WS}/c/crl/r/serial-1/history`, "History of record serial-1"], ["group", `#/b/${WS}/g/crl-reviewers`, "Group crl-reviewers"],
    ["accounts", "#/accounts", "Accounts"], ["account", "#/accounts/editor", "Account editor"]]) {
    await page.goto(ADMIN + route);
    await page.getByRole("heading", { name: heading, exact: true }).waitFor();
    await page.waitForFunction(() => document.activeElement.tagName === "H1"); // loaded
    await check(name);
  }
});
