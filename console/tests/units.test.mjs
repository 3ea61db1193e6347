// The console's pure helpers, compiled from console/src as the build compiles them: amounts typed
// by a person read as integer minor units (never floating point), and e-mail addresses as the
// user pool keeps them.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const out = join(root, ".local", "console-units");
mkdirSync(out, { recursive: true });
writeFileSync(join(out, "package.json"), '{"type": "module"}\n');
execFileSync(
  join(root, "console", "node_modules", ".bin", "tsc"),
  ["--outDir", out, "--target", "es2022", "--module", "es2022", "--strict", "--skipLibCheck",
    join(root, "console", "src", "money.ts"), join(root, "console", "src", "email.ts")],
  { stdio: "inherit" },
);
const money = await import(pathToFileURL(join(out, "money.js")).href);
const email = await import(pathToFileURL(join(out, "email.js")).href);

describe("amounts", () => {
  test("the separators people type are read, whichever is the decimal point", () => {
    for (const [typed, minor] of [
      ["12.50", 1250], ["12,5", 1250], ["12", 1200], [".5", 50], ["0.05", 5],
      ["1 250.00", 125000], ["1\u00a0250,00", 125000], ["1'250.00", 125000],
      ["1,250.00", 125000], ["1.250,00", 125000], ["1.250.000", 125000000], ["1,250,000", 125000000],
    ]) {
      assert.equal(money.toMinor(typed, "EUR"), minor, typed);
    }
  });

  test("decimals follow the currency", () => {
    assert.equal(money.toMinor("1250", "JPY"), 1250);
    assert.equal(money.toMinor("12.00", "JPY"), 12);
    assert.equal(money.toMinor("12.5", "JPY"), "JPY amounts have no decimals.");
    assert.equal(money.toMinor("12.345", "EUR"), "Use at most 2 decimals for EUR.");
    assert.equal(money.toMinor("12.340", "EUR"), 1234);
    assert.equal(money.toMinor("1.250", "BHD"), 1250);
  });

  test("what is not an amount is refused with the reason", () => {
    assert.equal(money.toMinor("", "EUR"), "Enter a price.");
    assert.equal(money.toMinor("   ", "EUR"), "Enter a price.");
    assert.equal(money.toMinor("abc", "EUR"), "Enter the price as a number, such as 12.50.");
    assert.equal(money.toMinor("-5", "EUR"), "Enter the price as a number, such as 12.50.");
    assert.equal(money.toMinor(".", "EUR"), "Enter the price as a number, such as 12.50.");
    assert.equal(money.toMinor("1e3", "EUR"), "Enter the price as a number, such as 12.50.");
  });

  test("the API's largest amount is accepted, one minor unit more is not", () => {
    assert.equal(money.toMinor("10000000000.00", "EUR"), money.MAX_AMOUNT);
    assert.equal(money.toMinor("10000000000.01", "EUR"), "This price is too large.");
  });

  test("an amount shown in the form reads back as itself", () => {
    assert.equal(money.toDecimal(1250, "EUR"), "12.50");
    assert.equal(money.toDecimal(5, "EUR"), "0.05");
    assert.equal(money.toDecimal(1250, "JPY"), "1250");
    assert.equal(money.toDecimal(1250, "BHD"), "1.250");
    for (const currency of ["EUR", "JPY", "BHD"]) {
      for (const minor of [0, 1, 9, 10, 99, 100, 1250, 123456789, money.MAX_AMOUNT]) {
        assert.equal(money.toMinor(money.toDecimal(minor, currency), currency), minor, `${minor} ${currency}`);
      }
    }
  });
});

test("an e-mail address is kept without surrounding spaces, in lower case", () => {
  assert.equal(email.normalEmail("  Alice@Acme.Example \t"), "alice@acme.example");
  assert.equal(email.normalEmail("bob@acme.example"), "bob@acme.example");
});
