// The login pages in a real browser (Debian's Chromium, driven by playwright-core), for the
// Rust test tests/tests/auth_router.rs, which starts the local AWS and the router and checks
// what this script reports. Usage: node browser_signin.mjs <config.json>
//
// config: { chromium, origin_of: {acme, globex, main}, screenshots, acme: {username,
//           temporary, new_password}, discover_email }
// Prints one JSON object: what each step saw (URL, status, heading, texts, cookies).

import { readFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
mkdirSync(config.screenshots, { recursive: true });

const browser = await chromium.launch({
  executablePath: config.chromium,
  headless: true,
  // The machine's network is closed: no background connections, no sandbox as root.
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const report = { steps: [] };
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  let shot = config.first_shot ?? 0;

  async function see(name, response) {
    shot += 1;
    const file = join(config.screenshots, `${String(shot).padStart(2, "0")}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    const step = {
      name,
      url: page.url(),
      status: response ? response.status() : null,
      heading: (await page.locator("h1").first().textContent().catch(() => null))?.trim() ?? null,
      text: (await page.locator("main").first().innerText().catch(() => "")).slice(0, 2000),
      screenshot: file,
    };
    report.steps.push(step);
    return step;
  }

  async function submit(selector) {
    const [response] = await Promise.all([
      page.waitForNavigation({ waitUntil: "load" }),
      page.click(selector),
    ]);
    return response;
  }

  if (config.mode === "activate") {
    // An activation link from a `link` invitation: choose a password, land signed in.
    let response = await page.goto(config.activation_url);
    await see("activation-link", response);
    await page.getByLabel("New password", { exact: true }).fill(config.new_password);
    await page.getByLabel("New password again").fill(config.new_password);
    response = await submit("#activate-form button[type=submit]");
    await see("activated-signed-in", response);
    // The same link again.
    response = await page.goto(config.activation_url);
    await see("activation-link-used", response);
    throw "done";
  }

  // 1. acme's login page; the temporary password from the welcome mail.
  let response = await page.goto(`${config.origin_of.acme}/login`);
  await see("acme-login", response);
  // The labels name the fields (accessibility): filled by their label, as a person would.
  await page.getByLabel("Username or e-mail address").fill(config.acme.username);
  await page.getByLabel("Password", { exact: true }).fill(config.acme.temporary);
  response = await submit("#login-form button[type=submit]");
  await see("acme-new-password", response);

  // 2. The new password, twice.
  await page.getByLabel("New password", { exact: true }).fill(config.acme.new_password);
  await page.getByLabel("New password again").fill(config.acme.new_password);
  response = await submit("#new-password-form button[type=submit]");
  await see("acme-signed-in", response);
  const cookies = await context.cookies();
  report.acme_cookies = cookies.map((c) => ({
    name: c.name,
    domain: c.domain,
    path: c.path,
    secure: c.secure,
    httpOnly: c.httpOnly,
    sameSite: c.sameSite,
  }));
  const session = cookies.find((c) => c.name === "__Host-session");
  // The ID token, for the test's calls to the admin API as this administrator.
  report.acme_id_token = session ? session.value : null;

  // 3. acme's session cookie, planted on globex's subdomain, is nobody there.
  // A browser never sends a host-only cookie to another host: present it to globex the
  // way a thief would, as the request's own Cookie header.
  report.planted_on_globex = Boolean(session);
  if (session) {
    await page.setExtraHTTPHeaders({ cookie: `__Host-session=${session.value}` });
  }
  response = await page.goto(`${config.origin_of.globex}/`);
  await see("globex-with-acme-cookie", response);
  await page.setExtraHTTPHeaders({});

  // 4. Sign out of acme.
  response = await page.goto(`${config.origin_of.acme}/`);
  response = await submit("#logout-form button[type=submit]");
  await see("acme-signed-out", response);
  report.cookies_after_sign_out = (await context.cookies())
    .filter((c) => c.name.startsWith("__Host-s") || c.name.startsWith("__Host-r"))
    .map((c) => `${c.domain} ${c.name}`);

  // 5. Discovery on the main domain: an address of acme's domain leads to acme.
  response = await page.goto(`${config.origin_of.main}/`);
  await see("discovery", response);
  await page.getByLabel("Work e-mail address or organization").fill(config.discover_email);
  response = await submit("#discover-form button[type=submit]");
  await see("discovered-acme-login", response);
  report.discovered_username = await page.locator("#username").inputValue().catch(() => null);

  // 6. The forgotten-password page, for the README.
  response = await page.goto(`${config.origin_of.acme}/forgot-password`);
  await see("forgot-password", response);
} catch (e) {
  if (e !== "done") report.error = String(e && e.stack ? e.stack : e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
