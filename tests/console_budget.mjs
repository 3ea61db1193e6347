// The web console's budgets: the JavaScript the first page needs (≤ 100 KB gzipped), the whole
// console's (≤ 250 KB), and the first meaningful paint of the home page (≤ 1 s) on the local
// stack in the test browser: from the navigation's start to the organization's welcome heading,
// for a signed-in person reloading the page (Cognito refresh, GET /tenant and the home page's
// own chunk included).
//
//   node tests/console_budget.mjs --check            sizes against the budgets (exit 1 over them)
//   node tests/console_budget.mjs --paint N          also N loads of the home page (needs the
//                                                      stack of TENANTRY_STACK); prints the figures
//   node tests/console_budget.mjs --paint 15 --write  ...and writes them to docs/PERFORMANCE.md
//                                                      (make bench-console)
import { gzipSync } from "node:zlib";
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import os from "node:os";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "console", "dist");
const BUDGET_FIRST = 100 * 1024;
const BUDGET_TOTAL = 250 * 1024;
const BUDGET_PAINT_MS = 1000;

const args = process.argv.slice(2);
const check = args.includes("--check");
const write = args.includes("--write");
const paintIndex = args.indexOf("--paint");
const loads = paintIndex >= 0 ? Number(args[paintIndex + 1] ?? 5) : 0;

const manifestFile = join(dist, ".vite", "manifest.json");
if (!existsSync(manifestFile)) {
  console.error("error: console/dist has no build manifest: npm run console:build first");
  process.exit(1);
}
const manifest = JSON.parse(readFileSync(manifestFile, "utf8"));
const gz = (file) => gzipSync(readFileSync(join(dist, file)), { level: 9 }).length;
const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;

/** A chunk and every chunk it imports statically: what loading it costs. */
function closure(key, seen = new Set()) {
  if (seen.has(key)) return seen;
  seen.add(key);
  for (const next of manifest[key].imports ?? []) closure(next, seen);
  return seen;
}
const sum = (keys) => [...keys].reduce((total, key) => total + gz(manifest[key].file), 0);
const entry = Object.keys(manifest).find((key) => manifest[key].isEntry);
const first = sum(closure(entry));
const homeKey = Object.keys(manifest).find((key) => key.endsWith("pages/home.tsx"));
const home = sum(closure(homeKey, closure(entry)));
const total = Object.values(manifest).filter((chunk) => chunk.file.endsWith(".js")).reduce((t, c) => t + gz(c.file), 0);
const css = Object.values(manifest).flatMap((chunk) => chunk.css ?? []).filter((f, i, all) => all.indexOf(f) === i)
  .reduce((t, f) => t + gz(f), 0);

const rows = [
  ["JavaScript of the first page (sign-in: the entry chunk and its imports), gzipped", kb(first), "≤ 100 KB", first <= BUDGET_FIRST],
  ["JavaScript of the home page (the above and its own chunk), gzipped", kb(home), "≤ 100 KB", home <= BUDGET_FIRST],
  ["JavaScript of the whole console (every chunk), gzipped", kb(total), "≤ 250 KB", total <= BUDGET_TOTAL],
  ["The stylesheet, gzipped", kb(css), "–", null],
];
for (const [what, value, budget, met] of rows) console.log(`${met === false ? "OVER" : "ok  "} ${what}: ${value} (${budget})`);

let paint = null;
if (loads > 0) paint = await measurePaint(loads);

if (write) {
  const section = report(rows, paint);
  for (const file of [join(root, "docs", "PERFORMANCE.md"), join(root, "bench", "FINDINGS.md")]) {
    const text = readFileSync(file, "utf8");
    const start = text.indexOf("<!-- console:start -->");
    const end = text.indexOf("<!-- console:end -->");
    const next = start >= 0 && end > start
      ? text.slice(0, start) + section + text.slice(end + "<!-- console:end -->".length)
      : `${text.trimEnd()}\n\n${section}\n`;
    writeFileSync(file, next);
    console.log(`wrote ${file}`);
  }
}
if (check && rows.some((row) => row[3] === false)) {
  console.error("error: the console is over its size budget (see above)");
  process.exit(1);
}

async function measurePaint(count) {
  // The journeys' own helpers: the stack of TENANTRY_STACK, Cognito, the browser.
  const { PASSWORD, cognito, launch, stack, uniqueEmail } = await import("../console/tests/lib.mjs");
  const email = uniqueEmail("paint");
  await cognito("SignUp", { ClientId: stack.client_id, Username: email, Password: PASSWORD,
    UserAttributes: [{ Name: "email", Value: email }, { Name: "custom:tenant_name", Value: "Paint Measure" }] });
  await cognito("ConfirmSignUp", { ClientId: stack.client_id, Username: email, ConfirmationCode: stack.delivery_code });
  const browser = await launch();
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  // Recorded by the measuring browser, not by the console: when the welcome heading appears.
  await context.addInitScript(() => {
    new MutationObserver((_, observer) => {
      const heading = document.querySelector("h1");
      if (heading && heading.textContent?.startsWith("Welcome to")) {
        window.__welcomeAt = performance.now();
        observer.disconnect();
      }
    }).observe(document, { childList: true, subtree: true, characterData: true });
  });
  const page = await context.newPage();
  await page.goto(`${stack.console_url}/sign-in`);
  await page.getByLabel("E-mail address").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: /^Welcome to/ }).waitFor();
  const samples = [];
  for (let i = 0; i < count; i += 1) {
    await page.goto(`${stack.console_url}/`);
    await page.getByRole("heading", { name: /^Welcome to/ }).waitFor();
    samples.push(await page.evaluate(() => window.__welcomeAt));
  }
  await browser.close();
  samples.sort((a, b) => a - b);
  const median = samples[Math.floor(samples.length / 2)];
  const worst = samples[samples.length - 1];
  console.log(`${median <= BUDGET_PAINT_MS ? "ok  " : "OVER"} the home page's first meaningful paint (median of ${count} reloads): ` +
    `${median.toFixed(0)} ms, slowest ${worst.toFixed(0)} ms (≤ ${BUDGET_PAINT_MS} ms; measured, not asserted)`);
  return { median, worst, count };
}

function report(rows, paint) {
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  const lines = [
    "<!-- console:start -->",
    "## The web console",
    "",
    `Measured by \`make bench-console\` (\`tests/console_budget.mjs\`) on ${new Date().toISOString().slice(0, 10)}, ` +
      `${os.cpus().length} × ${cpu}, Debian's Chromium through playwright-core, against the local stack.`,
    "",
    "| what | measured | budget | met |",
    "| --- | --- | --- | --- |",
    ...rows.map(([what, value, budget, met]) => `| ${what} | ${value} | ${budget} | ${met === null ? "–" : met ? "yes" : "no"} |`),
  ];
  if (paint) {
    lines.push(`| First meaningful paint of the home page (navigation start to the welcome heading, signed in; median of ${paint.count} reloads, slowest ${paint.worst.toFixed(0)} ms) | ${paint.median.toFixed(0)} ms | ≤ 1,000 ms | ${paint.median <= BUDGET_PAINT_MS ? "yes" : "no"} |`);
  }
  lines.push("", "The paint includes the token refresh (Cognito), `GET /tenant` through the local gateway and the home page's own chunk; the sizes are what Vite's build manifest says each page loads. `make test` checks the sizes against their budgets and prints a paint figure from three loads without asserting it.", "<!-- console:end -->");
  return lines.join("\n");
}
