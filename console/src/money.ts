// Amounts as people type them and as the API keeps them: integer minor units of a currency
// (cents for EUR, yen for JPY), never floating point.

/** The largest amount the API accepts, in minor units. */
export const MAX_AMOUNT = 1_000_000_000_000;

/** How many decimals the currency has (0 for JPY, 2 for EUR, 3 for BHD). */
export function fractionDigits(currency: string): number {
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    return 2;
  }
}

/**
 * The person's decimal amount ("12.50", "12,5", "1 250.00") in integer minor units, without
 * going through floating point; or the reason it is not one.
 */
export function toMinor(text: string, currency: string): number | string {
  const digits = fractionDigits(currency);
  let raw = text.replace(/[\s\u00a0\u202f']/g, "");
  if (!raw) return "Enter a price.";
  const dots = raw.split(".").length - 1;
  const commas = raw.split(",").length - 1;
  // With both separators the last one is the decimal point; a separator repeated alone groups thousands.
  if (dots && commas) {
    const decimal = raw.lastIndexOf(".") > raw.lastIndexOf(",") ? "." : ",";
    raw = raw.split(decimal === "." ? "," : ".").join("").replace(",", ".");
  } else if (dots > 1 || commas > 1) {
    raw = raw.replace(/[.,]/g, "");
  } else {
    raw = raw.replace(",", ".");
  }
  const match = /^(\d*)(?:\.(\d*))?$/.exec(raw);
  if (!match || (!match[1] && !match[2])) return "Enter the price as a number, such as 12.50.";
  const fraction = match[2] ?? "";
  if (fraction.replace(/0+$/, "").length > digits) {
    return digits === 0 ? `${currency} amounts have no decimals.` : `Use at most ${digits} decimals for ${currency}.`;
  }
  const minor = Number((match[1] || "0") + fraction.padEnd(digits, "0").slice(0, digits));
  if (minor > MAX_AMOUNT) return "This price is too large.";
  return minor;
}

/** Minor units as the plain decimal the form shows ("12.50"). */
export function toDecimal(minor: number, currency: string): string {
  const digits = fractionDigits(currency);
  if (digits === 0) return String(minor);
  const text = String(minor).padStart(digits + 1, "0");
  return `${text.slice(0, -digits)}.${text.slice(-digits)}`;
}
