// The console's SRP sign-in (console/src/srp.ts) against pycognito's (PyPI), an implementation
// of Cognito's SRP written by others: the same secret, server values and time must give the same
// password claim. Cognito's own arithmetic cannot run here (the local Cognito has no SRP), so this
// is what checks the console's before it meets AWS.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const out = join(root, ".local", "console-unit");
mkdirSync(out, { recursive: true });
execFileSync(
  join(root, "console", "node_modules", ".bin", "tsc"),
  ["--outDir", out, "--target", "es2022", "--module", "es2022", "--strict", "--skipLibCheck", join(root, "console", "src", "srp.ts")],
  { stdio: "inherit" },
);
const srp = await import(pathToFileURL(join(out, "srp.js")).href);

const POOL = "eu-west-1_AbCdEfGhI";

/** pycognito's answer for the same inputs. */
function pycognito(input) {
  const script = `
import base64, datetime, hashlib, hmac, json, sys
from pycognito.aws_srp import AWSSRP, hex_to_long
i = json.load(sys.stdin)
srp = AWSSRP("someone", i["password"], i["pool"], "client", client=object())
srp.small_a_value = int(i["a"], 16)
srp.large_a_value = srp.calculate_a()
key = srp.get_password_authentication_key(i["user"], i["password"], hex_to_long(i["b"]), i["salt"])
at = datetime.datetime.fromtimestamp(i["at"], datetime.timezone.utc)
stamp = AWSSRP.get_cognito_formatted_timestamp(at)
message = i["pool"].split("_")[1].encode() + i["user"].encode() + base64.b64decode(i["block"]) + stamp.encode()
print(json.dumps({"A": format(srp.large_a_value, "x"), "timestamp": stamp,
                  "signature": base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()}))
`;
  const text = execFileSync(join(root, ".venv", "bin", "python"), ["-c", script], { input: JSON.stringify(input) });
  return JSON.parse(String(text));
}

function randomHex(bytes) {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("hex");
}

test("the password claim is the one pycognito computes", async () => {
  for (let round = 0; round < 5; round++) {
    const input = {
      pool: POOL,
      user: `user-${round}-${randomHex(4)}`,
      password: round % 2 ? "Correct-Horse-9" : "pässwörd with spaces ✓",
      a: randomHex(128),
      // A salt whose hex starts with a non-zero digit (see srp.ts on leading zeros).
      salt: `7${randomHex(15).slice(1)}`,
      b: randomHex(384),
      block: Buffer.from(randomHex(64), "hex").toString("base64"),
      at: 1796700000 + round * 86_400 * 37,
    };
    const theirs = pycognito(input);
    const own = srp.ephemeral(BigInt(`0x${input.a}`));
    assert.equal(own.A.toString(16), theirs.A, "SRP_A");
    const ours = await srp.passwordClaim(
      POOL,
      input.password,
      own,
      { userIdForSrp: input.user, salt: input.salt, srpB: input.b, secretBlock: input.block },
      new Date(input.at * 1000),
    );
    assert.deepEqual(ours, { signature: theirs.signature, timestamp: theirs.timestamp }, JSON.stringify(input));
  }
});

test("hex is padded as Cognito hashes it, and times are written as it reads them", () => {
  assert.equal(srp.padHex(0x7fn), "7f");
  assert.equal(srp.padHex(0x80n), "0080");
  assert.equal(srp.padHex(0xabcn), "0abc");
  assert.equal(srp.cognitoTimestamp(new Date(Date.UTC(2026, 11, 8, 7, 5, 9))), "Tue Dec 8 07:05:09 UTC 2026");
  const fresh = [srp.ephemeral(), srp.ephemeral()];
  assert.notEqual(fresh[0].a, fresh[1].a, "a fresh secret each time");
});
