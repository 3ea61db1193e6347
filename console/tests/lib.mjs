// What the console's browser journeys share: the running local stack (stack.json, as `make test`
// starts it), Debian's Chromium through playwright-core, one browser context per person (each
// its own cookies and sessionStorage), screenshots at desktop and phone widths, axe-core, and a
// few calls made as another party would (Cognito's admin API as an AWS operator, TOTP codes as an
// authenticator app).
import { createHmac, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const stackFile = process.env.TENANTRY_STACK;
if (!stackFile || !existsSync(stackFile)) {
  throw new Error(`TENANTRY_STACK (${stackFile ?? "unset"}) names no stack.json: run the journeys through make test`);
}
export const stack = JSON.parse(readFileSync(stackFile, "utf8"));
if (!stack.console_url) throw new Error("stack.json has no console_url: the local stack serves no console");
if (!stack.delivery_code) throw new Error("the stack has no fixed delivery code: start it as make test does");
export const CODE = stack.delivery_code;
export const PASSWORD = "Correct-Horse-Battery-9";
export const SHOTS = join(root, ".local", "console");
mkdirSync(SHOTS, { recursive: true });

const browserPath = process.env.CHROMIUM || "/usr/bin/chromium";
if (!existsSync(browserPath)) {
  throw new Error(`no browser at ${browserPath}: scripts/bootstrap.sh installs Debian's chromium (as root), or set CHROMIUM`);
}

export async function launch() {
  return chromium.launch({
    executablePath: browserPath,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
}

/**
 * A person's browser: a context of its own, whose page fails the test on any error it logs
 * (a Content-Security-Policy violation is one) or any request to another origin than the
 * console's and the payment stand-in's (the checkout page is Stripe's, deployed).
 */
export async function person(browser, { width = 1280, height = 860 } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, locale: "en-GB", timezoneId: "UTC" });
  // The organizations' logos are https images of their own hosts: this one is answered here.
  await context.route(`${LOGO_ORIGIN}/**`, (route) =>
    route.fulfill({ status: 200, contentType: "image/svg+xml", body: LOGO_SVG }));
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    const text = message.text();
    // A refused API call is logged by the browser as a failed resource: the journeys expect some.
    if (/Failed to load resource: the server responded with a status of (4\d\d|503)/.test(text)) return;
    problems.push(`console error: ${text}`);
  });
  const allowed = [new URL(stack.console_url).origin, new URL(stack.stripe_endpoint).origin, LOGO_ORIGIN];
  page.on("request", (request) => {
    const url = request.url();
    if (url.startsWith("data:")) return;
    const origin = new URL(url).origin;
    if (!allowed.includes(origin)) problems.push(`request to another origin: ${url}`);
  });
  return {
    context,
    page,
    problems,
    assertClean() {
      assert.deepEqual(problems, [], "the page logged errors or left its origin");
    },
  };
}

/** The host of the logo the journeys give an organization, and the logo. */
export const LOGO_ORIGIN = "https://logo.example";
const LOGO_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="12" fill="#0f6b3a"/><path d="M16 40c8-20 24-24 32-20-6 2-10 8-12 16-4 8-14 10-20 4z" fill="#fff"/></svg>`;

/** Waits until `check` answers true (polled), or fails with `what`. */
export async function until(check, what, timeout = 10_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export function uniqueEmail(label) {
  return `${label}-${randomBytes(4).toString("hex")}@example.com`;
}

/** A screenshot of what the page shows, at the width it has and at 375 px. */
export async function shoot(page, name) {
  const size = page.viewportSize();
  await page.screenshot({ path: join(SHOTS, `${name}-desktop.png`), fullPage: true });
  await page.setViewportSize({ width: 375, height: 812 });
  await page.waitForTimeout(100);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  await page.screenshot({ path: join(SHOTS, `${name}-phone.png`), fullPage: true });
  await page.setViewportSize(size);
  assert.ok(overflow <= 0, `${name}: the page scrolls sideways at 375 px (${overflow} px)`);
}

const axeSource = readFileSync(join(root, "node_modules", "axe-core", "axe.min.js"), "utf8");

/** axe-core on the page as it is: no serious or critical violation. */
export async function accessible(page, name) {
  // Evaluated through the browser's protocol, as a test tool is: the page's own policy allows no
  // script from elsewhere, and none is added to it.
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    bad.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`),
    [],
    `${name}: accessibility violations`,
  );
}

/** A page checked as a person would look at it: screenshots at both widths, and axe-core. */
export async function look(page, name) {
  await accessible(page, name);
  await shoot(page, name);
}

/** Cognito's JSON API, as the AWS CLI or an administrator's script calls it. */
export async function cognito(target, body) {
  const response = await fetch(stack.cognito_endpoint, {
    method: "POST",
    headers: { "content-type": "application/x-amz-json-1.1", "x-amz-target": `AWSCognitoIdentityProviderService.${target}` },
    body: JSON.stringify(body),
  });
  const json = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(`${target}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

export const OPERATOR_TEMPORARY_PASSWORD = "Temporary-Password-1";

/** A platform operator (group platform-admin), created as an AWS administrator would. */
export async function createOperator(email) {
  await cognito("AdminCreateUser", {
    UserPoolId: stack.user_pool_id,
    Username: email,
    UserAttributes: [{ Name: "email", Value: email }, { Name: "email_verified", Value: "true" }],
    MessageAction: "SUPPRESS",
    TemporaryPassword: OPERATOR_TEMPORARY_PASSWORD,
  });
  await cognito("AdminAddUserToGroup", { UserPoolId: stack.user_pool_id, Username: email, GroupName: "platform-admin" });
}

/** The ID token of a person, signed in through Cognito directly (another party's client). */
export async function idToken(email, password = PASSWORD) {
  const answer = await cognito("InitiateAuth", {
    ClientId: stack.client_id,
    AuthFlow: "USER_PASSWORD_AUTH",
    AuthParameters: { USERNAME: email, PASSWORD: password },
  });
  return answer.AuthenticationResult.IdToken;
}

/** The API called directly, as another client of the same organization would. */
export async function callApi(token, method, path, body, headers = {}) {
  const response = await fetch(`${stack.api_url}${path}`, {
    method,
    headers: { authorization: token, "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null };
}

/** RFC 6238 TOTP (SHA-1, 30 s, 6 digits) of a base32 secret, as an authenticator app computes it. */
export function totp(secret, unixSeconds = Math.floor(Date.now() / 1000)) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  const bytes = [];
  for (const char of secret.replace(/=+$/, "").toUpperCase()) {
    const digit = alphabet.indexOf(char);
    if (digit < 0) throw new Error("not a base32 secret");
    value = (value << 5) | digit;
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixSeconds / 30)));
  const digest = createHmac("sha1", Buffer.from(bytes)).update(counter).digest();
  const offset = digest[digest.length - 1] & 0x0f;
  const code = (digest.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(code).padStart(6, "0");
}
