// Dates, numbers and money in the organization's locale and time zone (its settings), or the
// browser's until they are known.
import { store } from "./store";

export interface Formats {
  locale: string | undefined;
  timeZone: string | undefined;
}

export const formats = store<Formats>({ locale: undefined, timeZone: undefined });

function safe<T>(make: (locale: string | undefined, timeZone: string | undefined) => T, fallback: () => T): T {
  const { locale, timeZone } = formats.get();
  try {
    return make(locale, timeZone);
  } catch {
    return fallback();
  }
}

export function formatDate(value: string | number | Date | null | undefined): string {
  if (value === null || value === undefined || value === "") return "–";
  const date = value instanceof Date ? value : new Date(value);
  return safe(
    (locale, timeZone) => new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short", timeZone }).format(date),
    () => date.toISOString(),
  );
}

export function formatNumber(value: number): string {
  return safe((locale) => new Intl.NumberFormat(locale).format(value), () => String(value));
}

/** An amount in minor units (cents) of an ISO 4217 currency. */
export function formatMoney(minor: number, currency: string): string {
  return safe(
    (locale) => {
      const format = new Intl.NumberFormat(locale, { style: "currency", currency });
      const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
      return format.format(minor / 10 ** digits);
    },
    () => `${minor} ${currency}`,
  );
}
