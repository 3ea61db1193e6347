// The console's journeys, each end to end in Chromium against the local stack that `make test`
// starts: what a new customer does, from sign-up to a second organization, a colleague, a
// payment, an operator and a second factor. Screenshots of every page, at desktop and 375 px, go
// to .local/console/. Run by scripts/console_test.sh (make test).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  CODE,
  LOGO_ORIGIN,
  OPERATOR_TEMPORARY_PASSWORD,
  PASSWORD,
  SHOTS,
  accessible,
  callApi,
  createOperator,
  idToken,
  launch,
  look,
  person,
  stack,
  totp,
  uniqueEmail,
  until,
} from "./lib.mjs";

let browser;
const people = [];
async function newPerson(options) {
  const found = await person(browser, options);
  people.push(found);
  return found;
}

before(async () => {
  browser = await launch();
});
after(async () => {
  // What each person's page shows at the end: where a failed journey stopped.
  for (const [i, { page }] of people.entries()) {
    await page.screenshot({ path: `${SHOTS}/last-${i}.png` }).catch(() => undefined);
  }
  await browser?.close();
});

/** Signs up an organization through the console's pages and signs in; the page is home. */
async function signUp(page, email, organization, { shots = false } = {}) {
  await page.goto(`${stack.console_url}/`);
  await page.getByRole("link", { name: "Create an organization" }).click();
  await page.getByRole("heading", { name: "Create your organization" }).waitFor();
  await page.getByLabel("Organization name").fill(organization);
  await page.getByLabel("E-mail address").fill(email);
  await page.getByLabel("Password", { exact: true }).fill("short");
  if (shots) await look(page, "sign-up");
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Create organization" }).click();
  await page.getByRole("heading", { name: "Confirm your e-mail address" }).waitFor();
  if (shots) await look(page, "confirm");
  await page.getByLabel("Confirmation code").fill(CODE);
  await page.getByRole("button", { name: "Confirm" }).click();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await page.getByText("Your e-mail address is confirmed").waitFor();
  assert.equal(await page.getByLabel("E-mail address").inputValue(), email);
  if (shots) await look(page, "sign-in");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: `Welcome to ${organization}` }).waitFor();
}

async function signIn(page, email, password = PASSWORD) {
  await page.goto(`${stack.console_url}/sign-in`);
  await page.getByLabel("E-mail address").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

async function go(page, title) {
  await page.getByRole("banner").waitFor();
  const nav = page.getByRole("navigation", { name: "Main" });
  if (!(await nav.isVisible())) await page.getByRole("button", { name: "Menu" }).click();
  await nav.getByRole("link", { name: title, exact: true }).click();
  const heading = title === "Home" ? /^Welcome/ : title;
  await page.getByRole("heading", { name: heading, exact: true, level: 1 }).waitFor();
}

describe("a new customer in the console", () => {
  const suffix = Math.random().toString(36).slice(2, 7);
  const admin = { email: uniqueEmail("admin"), organization: `Acme Tea ${suffix}`, newPassword: "Changed-Horse-Battery-7" };
  const colleague = { email: uniqueEmail("colleague"), password: "Colleague-Secret-42" };
  let alice;

  test("signs up, confirms the address, signs in and sees the welcome", async () => {
    alice = await newPerson();
    await signUp(alice.page, admin.email, admin.organization, { shots: true });
    await alice.page.getByRole("heading", { name: "Your plan" }).waitFor();
    await alice.page.getByRole("link", { name: "Add your first product" }).waitFor();
    await look(alice.page, "home");
    alice.assertClean();
  });

  test("personalizes the organization and sees it applied at once", async () => {
    const { page } = alice;
    await go(page, "Settings");
    await page.getByLabel("Display name").fill("Acme Tea House");
    await page.getByLabel("Logo URL").fill(`${LOGO_ORIGIN}/acme.svg`);
    await page.getByLabel("Brand colour").fill("#0f6b3a");
    await page.getByLabel("Language and region").selectOption("fr-FR");
    await page.getByLabel("Time zone").selectOption("Europe/Paris");
    await page.getByRole("button", { name: "Save settings" }).click();
    await page.getByText("Settings saved.").waitFor();
    // The header: the display name and the logo; the theme: the colour.
    await page.getByRole("banner").getByText("Acme Tea House").waitFor();
    assert.equal(await page.getByRole("banner").locator("img.logo").getAttribute("src"), `${LOGO_ORIGIN}/acme.svg`);
    const brand = await page.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue("--brand").trim());
    assert.equal(brand.toLowerCase(), "#0f6b3a");
    assert.equal(await page.evaluate(() => document.documentElement.lang), "fr-FR");
    await look(page, "settings");
    alice.assertClean();
  });

  test("creates products and an order, and is told of a change made by someone else", async () => {
    const { page } = alice;
    await go(page, "Products");
    for (const [name, sku, price] of [["Sencha", "TEA-1", "12.50"], ["Matcha", "TEA-2", "24.00"]]) {
      await page.getByRole("button", { name: "New product" }).click();
      await page.getByLabel("Name").fill(name);
      await page.getByLabel("SKU").fill(sku);
      await page.getByLabel("Price").fill(price);
      await page.getByRole("button", { name: "Create product" }).click();
      await page.getByRole("cell", { name, exact: true }).waitFor();
    }
    // The API's refusal, next to the field it is about.
    await page.getByRole("button", { name: "New product" }).click();
    await page.getByLabel("Name").fill("Sencha again");
    await page.getByLabel("SKU").fill("TEA-1");
    await page.getByLabel("Price").fill("1.00");
    await page.getByRole("button", { name: "Create product" }).click();
    const sku = page.getByLabel("SKU");
    await until(async () => (await sku.getAttribute("aria-invalid")) === "true", "the SKU field is marked invalid");
    const described = await sku.getAttribute("aria-describedby");
    const messages = await Promise.all(described.split(" ").map((id) => page.locator(`[id="${id}"]`).innerText()));
    assert.ok(messages.includes("Another product already uses this SKU."), `the SKU field says why: ${messages}`);
    await page.getByRole("button", { name: "Cancel" }).click();
    // Prices in the organization's locale (fr-FR): "12,50 €".
    await page.getByRole("cell", { name: /12,50\s€/ }).waitFor();
    // A second client changes Sencha while the form is open: saving is refused, and said so.
    await page.getByRole("button", { name: "Edit Sencha" }).click();
    const token = await idToken(admin.email);
    const list = await callApi(token, "GET", "/products");
    const sencha = list.body.items.find((p) => p.name === "Sencha");
    const read = await callApi(token, "GET", `/products/${sencha.id}`);
    const changed = await callApi(token, "PUT", `/products/${sencha.id}`,
      { name: "Sencha Superior", sku: "TEA-1", price: 1400, currency: "EUR" }, { "if-match": read.headers.get("etag") });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    await page.getByLabel("Price").fill("13.00");
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.getByText("This was changed by someone else.").waitFor();
    await page.getByRole("button", { name: "Reload" }).click();
    await until(async () => (await page.getByLabel("Name").inputValue()) === "Sencha Superior", "the form shows the other change");
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.getByRole("cell", { name: "Sencha Superior", exact: true }).waitFor();
    await look(page, "products");

    await go(page, "Orders");
    await page.getByRole("button", { name: "New order" }).click();
    await page.getByLabel("Product").selectOption({ label: "Matcha" });
    await page.getByLabel("Quantity").fill("3");
    await page.getByRole("button", { name: "Create order" }).click();
    const row = page.getByRole("row").filter({ hasText: "pending" });
    await row.first().waitFor();
    await row.first().getByRole("button", { name: /^Mark paid/ }).click();
    await page.getByRole("row").filter({ hasText: "paid" }).first().waitFor();
    await page.getByRole("cell", { name: /72,00\s€/ }).waitFor();
    await look(page, "orders");
    alice.assertClean();
  });

  test("invites a colleague, who sets a password and has member rights only", async () => {
    const { page } = alice;
    await go(page, "Users");
    await page.getByLabel("E-mail address").fill(colleague.email);
    await page.getByLabel("Role", { exact: true }).selectOption({ label: "Member" });
    await page.getByRole("button", { name: "Invite" }).click();
    await page.getByText(`Invitation sent to ${colleague.email}`).waitFor();
    await page.getByRole("cell", { name: colleague.email, exact: true }).waitFor();
    await look(page, "users");

    const bob = await newPerson({ width: 375, height: 812 });
    colleague.person = bob;
    await signIn(bob.page, colleague.email, CODE); // the e-mailed temporary password
    await bob.page.getByRole("heading", { name: "Choose a new password" }).waitFor();
    await look(bob.page, "new-password");
    await bob.page.getByLabel("New password").fill(colleague.password);
    await bob.page.getByRole("button", { name: "Set password" }).click();
    await bob.page.getByRole("heading", { name: "Welcome to Acme Tea House" }).waitFor();
    await go(bob.page, "Users");
    await bob.page.getByText("Only admins can invite people and change roles.").waitFor();
    assert.equal(await bob.page.getByRole("button", { name: "Invite" }).count(), 0, "a member sees no invite form");
    await go(bob.page, "Products");
    await bob.page.getByRole("cell", { name: "Matcha", exact: true }).waitFor();
    assert.equal(await bob.page.getByRole("button", { name: /^Delete/ }).count(), 0, "a member sees no delete");
    bob.assertClean();
  });

  test("the admin removes the colleague: the colleague's open console is refused within 10 s, nothing typed is lost", async () => {
    const bob = colleague.person;
    await bob.page.getByRole("button", { name: "New product" }).click();
    await bob.page.getByLabel("Name").fill("Typed before the removal");
    await bob.page.getByLabel("SKU").fill("KEEP-1");
    await bob.page.getByLabel("Price").fill("1.00");

    const { page } = alice;
    await page.getByRole("button", { name: `Remove ${colleague.email}` }).click();
    await page.getByRole("button", { name: `Confirm remove ${colleague.email}` }).click();
    const removedAt = Date.now();
    await page.getByRole("cell", { name: colleague.email, exact: true }).waitFor({ state: "detached" });

    // The data routes' promise: 10 s after the removal, the colleague's token is refused.
    await bob.page.waitForTimeout(Math.max(0, removedAt + 10_000 - Date.now()));
    await bob.page.getByRole("button", { name: "Create product" }).click();
    const dialog = bob.page.getByRole("dialog", { name: "Sign in again" });
    await dialog.waitFor({ timeout: 5_000 });
    await dialog.getByText("Your access to this organization has changed or was withdrawn").waitFor();
    // The form under the dialog is as it was.
    assert.equal(await bob.page.getByLabel("Name", { exact: true }).inputValue(), "Typed before the removal");
    await look(bob.page, "session-ended");
    const token = await idToken(admin.email);
    const products = await callApi(token, "GET", "/products");
    assert.ok(!products.body.items.some((p) => p.name === "Typed before the removal"), "the refused product was not created");
    bob.assertClean();
  });

  test("a second organization, in another browser, sees none of the first one's data", async () => {
    const carol = await newPerson();
    const other = `Bakery ${Math.random().toString(36).slice(2, 7)}`;
    await signUp(carol.page, uniqueEmail("carol"), other);
    for (const title of ["Products", "Orders", "Users"]) {
      await go(carol.page, title);
      await carol.page.waitForLoadState("networkidle");
      const text = await carol.page.locator("main").innerText();
      for (const secret of ["Sencha", "Matcha", "Acme Tea", admin.email, colleague.email]) {
        assert.ok(!text.includes(secret), `${other}'s ${title} page shows ${secret}`);
      }
    }
    await carol.page.getByText("No orders yet.").count();
    carol.assertClean();
    admin.other = { person: carol, name: other };
  });

  test("the admin upgrades through the (local) checkout page and sees the new plan", async () => {
    const { page } = alice;
    await go(page, "Billing");
    await look(page, "billing");
    await page.getByRole("button", { name: "Upgrade to Standard" }).click();
    // The payment provider's page (Stripe's Checkout, played by the stand-in).
    await page.waitForURL((url) => url.origin === new URL(stack.stripe_endpoint).origin);
    await page.getByRole("button", { name: /^Pay/ }).click();
    await page.waitForURL(/\/billing\?checkout=done/);
    await page.getByText("Your plan is now Standard.").waitFor({ timeout: 60_000 });
    await page.getByRole("heading", { name: "Invoices" }).waitFor();
    await look(page, "billing-paid");
    await go(page, "Home");
    await page.getByText("Standard").first().waitFor();
    alice.assertClean();
  });

  test("a platform operator moves the second organization to premium, then suspends it: its users see the progress, then why", async () => {
    const email = uniqueEmail("operator");
    await createOperator(email);
    const ops = await newPerson();
    await signIn(ops.page, email, OPERATOR_TEMPORARY_PASSWORD);
    await ops.page.getByLabel("New password").fill("Operator-Secret-42");
    await ops.page.getByRole("button", { name: "Set password" }).click();
    // An operator belongs to no organization: a welcome without one.
    await ops.page.getByRole("heading", { name: "Welcome", exact: true }).waitFor();
    await go(ops.page, "Operator");
    const name = admin.other.name;
    await ops.page.getByLabel("Search tenants").fill(name);
    await ops.page.getByRole("button", { name: `Manage ${name}` }).click();
    await ops.page.getByRole("heading", { name, level: 2 }).waitFor();
    await look(ops.page, "operator");

    // A move to premium copies the organization's data to a table of its own; meanwhile its
    // console shows the progress, and loads the page by itself once the copy is done.
    const carol = admin.other.person;
    await ops.page.getByLabel("Tier").selectOption("premium");
    const moved = ops.page.getByRole("button", { name: "Change tier" }).click();
    // The job freezes the organization when it starts (in the background, as in Lambda), and the
    // data APIs see the freeze once their 10 s cache of the tenant record expires; the freeze
    // lasts the drain (20 s) and the copy. Carol reloads the page until it shows, as a person would.
    const preparing = carol.page.getByText("Your organization's storage is being prepared");
    for (let tries = 0; ; tries += 1) {
      assert.ok(tries < 60, "the organization's console never showed the move to premium");
      if (tries > 0) await go(carol.page, "Home");
      await go(carol.page, "Products");
      if (await preparing.waitFor({ timeout: 1_000 }).then(() => true, () => false)) break;
    }
    await look(carol.page, "provisioning");
    await carol.page.getByText("No products yet").waitFor({ timeout: 60_000 });
    await moved;
    // "now on the premium tier", or (the answer written before the copy ended) "a storage
    // migration to the premium tier was dispatched".
    await ops.page.getByText(/the premium tier/).first().waitFor({ timeout: 60_000 });
    // The migration job runs in the background (as in Lambda), so the panel still shows the
    // organization as the change found it: the operator refreshes until the move is over (as
    // the panel's message says), then suspends it from its current version.
    const over = async () =>
      (await ops.page.getByText("Its state calls for no job.").isVisible()) &&
      (await ops.page.locator("dd", { hasText: /^premium$/ }).count()) > 0;
    for (let tries = 0; !(await over()); tries += 1) {
      assert.ok(tries < 60, "the move to premium did not end in the operator's panel");
      await ops.page.getByRole("button", { name: "Refresh", exact: true }).click();
      await ops.page.waitForTimeout(1_000);
    }

    await ops.page.getByRole("button", { name: "Suspend", exact: true }).click();
    await ops.page.getByRole("button", { name: "Confirm suspend" }).click();
    await ops.page.getByRole("button", { name: "Reactivate", exact: true }).waitFor();
    ops.assertClean();

    // The suspended organization's admin: refused at once on the control routes, and told why.
    await go(carol.page, "Orders");
    await go(carol.page, "Users");
    await carol.page.getByText("This organization cannot be used now.").waitFor({ timeout: 15_000 });
    await carol.page.getByRole("alert").filter({ hasText: "suspended" }).first().waitFor();
    await look(carol.page, "suspended");
    carol.assertClean();
  });

  test("registers a webhook endpoint and an API client, and sees its organizations", async () => {
    const { page } = alice;
    await go(page, "Integrations");
    await page.getByLabel("Endpoint URL").fill("http://127.0.0.1:9/hook");
    await page.getByLabel("product.created").check();
    await page.getByLabel("order.created").check();
    await page.getByRole("button", { name: "Add endpoint" }).click();
    await page.getByText("Signing secret (shown once)").waitFor();
    assert.match(await page.locator("code.secret").first().innerText(), /^whsec_/);
    await page.getByLabel("Client name").fill("ERP");
    await page.getByLabel("products.read").check();
    await page.getByRole("button", { name: "Create client" }).click();
    await page.getByText("Client secret (shown once)").waitFor();
    await page.getByRole("cell", { name: "ERP", exact: true }).waitFor();
    await look(page, "integrations");
    await go(page, "Organizations");
    await page.getByRole("rowheader", { name: admin.organization, exact: true }).waitFor();
    await look(page, "organizations");
    alice.assertClean();
  });

  test("signs in and moves around with the keyboard alone", async () => {
    const dana = await newPerson();
    const email = uniqueEmail("dana");
    await signUp(dana.page, email, `Keyboard ${Math.random().toString(36).slice(2, 7)}`);
    const { page } = dana;
    await page.getByRole("button", { name: "Sign out" }).press("Enter");
    await page.getByText("You are signed out.").waitFor();
    const focused = () => page.evaluate(() => {
      const element = document.activeElement;
      return element?.labels?.[0]?.textContent?.trim() || element?.textContent?.trim() || element?.tagName;
    });
    const tabTo = async (name) => {
      for (let i = 0; i < 40 && (await focused()) !== name; i += 1) await page.keyboard.press("Tab");
      assert.equal(await focused(), name, `Tab reaches ${name}`);
    };
    // The sign-in page's title takes the focus once the page is shown: tabbing starts from there.
    await until(async () => (await focused()) === "Sign in", "the sign-in page's title has the focus");
    await tabTo("E-mail address");
    await page.keyboard.type(email);
    await tabTo("Password");
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: /^Welcome to/ }).waitFor();
    // The page's title takes the focus, so a screen reader starts there.
    assert.match(await focused(), /^Welcome to/);
    await tabTo("Products");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Products", level: 1 }).waitFor();
    assert.equal(await focused(), "Products", "the new page's title has the focus");
    dana.assertClean();
  });

  test("turns on TOTP in the profile, resets the password, and signs in with both", async () => {
    const { page } = alice;
    await page.getByRole("link", { name: admin.email }).click();
    await page.getByRole("heading", { name: "Your profile" }).waitFor();
    await page.getByText("Two-step verification is off.").waitFor();
    await page.getByRole("button", { name: "Set up two-step verification" }).click();
    await page.getByRole("img", { name: "QR code for your authenticator app" }).waitFor();
    const secret = (await page.getByTestId("totp-secret").innerText()).trim();
    await look(page, "profile-totp");
    await page.getByLabel("Code from the app").fill(totp(secret));
    await page.getByRole("button", { name: "Turn on" }).click();
    await page.getByText("Two-step verification is on. You will be asked for a code when you sign in.").waitFor();

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByText("You are signed out.").waitFor();
    await page.getByRole("link", { name: "Forgot your password?" }).click();
    await page.getByRole("heading", { name: "Reset your password" }).waitFor();
    await look(page, "forgot-password");
    await page.getByLabel("E-mail address").fill(admin.email);
    await page.getByRole("button", { name: "Send code" }).click();
    await page.getByLabel("Code", { exact: true }).fill(CODE); // the e-mailed code
    await page.getByLabel("New password").fill(admin.newPassword);
    await page.getByRole("button", { name: "Reset password" }).click();
    await page.getByText("Your password is changed. Sign in with it.").waitFor();
    await signIn(page, admin.email, admin.newPassword);
    await page.getByRole("heading", { name: "Two-step verification" }).waitFor();
    await look(page, "totp-challenge");
    // A code for the next 30 s window would be refused; this one is the app's current code.
    await page.getByLabel("Authentication code").fill(totp(secret));
    await page.getByRole("button", { name: "Verify" }).click();
    await page.getByRole("heading", { name: "Welcome to Acme Tea House" }).waitFor();
    await accessible(page, "home after TOTP");
    alice.assertClean();
  });
});
