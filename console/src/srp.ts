// Cognito's Secure Remote Password sign-in (USER_SRP_AUTH): the password never leaves the
// browser, not even to Cognito; the console proves it knows it. The production app client allows
// no other password sign-in. The arithmetic is SRP-6a over RFC 3526's 3072-bit group (g = 2,
// SHA-256), with the key derived as Cognito derives it (HKDF, "Caldera Derived Key") and the
// claim signed over the pool name, the user, the challenge's secret block and a timestamp in
// Cognito's format. BigInt and the Web Crypto API do the work; nothing here is stored.

/** RFC 3526's 3072-bit MODP group prime. */
const N_HEX =
  "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD" +
  "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
  "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F" +
  "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B" +
  "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510" +
  "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7" +
  "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C" +
  "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF";

const N = BigInt(`0x${N_HEX}`);
const G = 2n;

/** `value` in hex, as Cognito hashes it: an even number of digits, and a leading 00 when the
 *  first digit would read as a sign (positive numbers only). */
export function padHex(value: bigint): string {
  let hex = value.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  else if ("89abcdef".includes(hex[0] ?? "0")) hex = `00${hex}`;
  return hex;
}

function hexToBytes(hex: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

function bytesToHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

async function hmac(key: Uint8Array<ArrayBuffer>, message: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  const imported = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", imported, message));
}

/** The SHA-256 of the bytes a hex string spells, as a number. */
async function hashHex(hex: string): Promise<bigint> {
  return BigInt(`0x${bytesToHex(await sha256(hexToBytes(hex)))}`);
}

function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = ((base % modulus) + modulus) % modulus;
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
    e >>= 1n;
  }
  return result;
}

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** A time as Cognito reads it in a password claim: `Tue Dec 8 07:05:09 UTC 2026`. */
export function cognitoTimestamp(at: Date): string {
  const two = (n: number) => String(n).padStart(2, "0");
  return (
    `${WEEKDAYS[at.getUTCDay()]} ${MONTHS[at.getUTCMonth()]} ${at.getUTCDate()} ` +
    `${two(at.getUTCHours())}:${two(at.getUTCMinutes())}:${two(at.getUTCSeconds())} UTC ${at.getUTCFullYear()}`
  );
}

/** One sign-in's secret `a` and public `A` (`SRP_A`, sent with InitiateAuth). */
export interface Ephemeral {
  a: bigint;
  A: bigint;
}

/** A fresh ephemeral pair from 128 random bytes (`a` may be given, for tests). */
export function ephemeral(a?: bigint): Ephemeral {
  let secret = a;
  if (secret === undefined) {
    const random = new Uint8Array(128);
    crypto.getRandomValues(random);
    secret = BigInt(`0x${bytesToHex(random)}`) % N;
  }
  const A = modPow(G, secret, N);
  if (A % N === 0n) throw new Error("the random value is unusable");
  return { a: secret, A };
}

/** What the PASSWORD_VERIFIER challenge gives (its ChallengeParameters). */
export interface Verifier {
  userIdForSrp: string;
  salt: string;
  srpB: string;
  secretBlock: string;
}

/** The answer to the PASSWORD_VERIFIER challenge, signed at `at`. */
export async function passwordClaim(
  userPoolId: string,
  password: string,
  own: Ephemeral,
  verifier: Verifier,
  at: Date,
): Promise<{ signature: string; timestamp: string }> {
  const poolName = userPoolId.split("_")[1] ?? "";
  const B = BigInt(`0x${verifier.srpB}`);
  if (B % N === 0n) throw new Error("the server's value is unusable");
  const k = await hashHex(padHex(N) + padHex(G));
  const u = await hashHex(padHex(own.A) + padHex(B));
  if (u === 0n) throw new Error("the shared value is unusable");
  const identity = await sha256(new TextEncoder().encode(`${poolName}${verifier.userIdForSrp}:${password}`));
  // The salt is hashed as the number it spells (AWS's own client reads it so): a salt written
  // with leading zeros hashes without them.
  const x = await hashHex(padHex(BigInt(`0x${verifier.salt}`)) + bytesToHex(identity));
  const base = (((B - k * modPow(G, x, N)) % N) + N) % N;
  const S = modPow(base, own.a + u * x, N);
  const prk = await hmac(hexToBytes(padHex(u)), hexToBytes(padHex(S)));
  const info = concat(new TextEncoder().encode("Caldera Derived Key"), new Uint8Array([1]));
  const key = (await hmac(prk, info)).slice(0, 16);
  const timestamp = cognitoTimestamp(at);
  const secretBlock = Uint8Array.from(atob(verifier.secretBlock), (c) => c.charCodeAt(0));
  const message = concat(
    new TextEncoder().encode(poolName),
    new TextEncoder().encode(verifier.userIdForSrp),
    secretBlock,
    new TextEncoder().encode(timestamp),
  );
  const signed = await hmac(key, message);
  return { signature: btoa(String.fromCharCode(...signed)), timestamp };
}
