// The organization the session's tokens carry: its record (GET /tenant), applied to the console
// at once (the colour as the theme, dates and numbers in its locale and time zone), or why it
// cannot be used (suspended, MFA required).
import { ApiError, api, organizationProblems, type Schemas } from "./api";
import { formats } from "./format";
import { store } from "./store";

export type Organization = Schemas["TenantDetails"];

export interface OrgState {
  tenant: Organization | null;
  /** Why the organization cannot be used now (the API's problem), if it cannot. */
  blocked: ApiError | null;
  loading: boolean;
}

export const organization = store<OrgState>({ tenant: null, blocked: null, loading: false });

// Suspended (or an MFA requirement) while a page is open: the shell's banner says so at once.
organizationProblems.add((error) => organization.set({ ...organization.get(), blocked: error }));

/** Applies an organization's personalization to the console. */
export function applySettings(tenant: Organization | null): void {
  const settings = tenant?.settings ?? {};
  const root = document.documentElement;
  if (settings.primary_color) {
    root.style.setProperty("--brand", settings.primary_color);
    root.style.setProperty("--brand-ink", readableInk(settings.primary_color));
  } else {
    root.style.removeProperty("--brand");
    root.style.removeProperty("--brand-ink");
  }
  root.lang = settings.locale ?? "en";
  formats.set({ locale: settings.locale, timeZone: settings.time_zone });
}

/** Black or white, whichever reads better on the colour (WCAG relative luminance). */
export function readableInk(hex: string): string {
  const channel = (i: number) => {
    const c = parseInt(hex.slice(1 + i * 2, 3 + i * 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const luminance = 0.2126 * channel(0) + 0.7152 * channel(1) + 0.0722 * channel(2);
  return luminance > 0.179 ? "#111111" : "#ffffff";
}

export async function loadOrganization(): Promise<void> {
  organization.set({ ...organization.get(), loading: true });
  try {
    const { data } = await api.get("/tenant");
    organization.set({ tenant: data, blocked: null, loading: false });
    applySettings(data);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 403 || error.status === 503)) {
      organization.set({ tenant: null, blocked: error, loading: false });
    } else {
      organization.set({ tenant: null, blocked: error instanceof ApiError ? error : null, loading: false });
    }
    applySettings(null);
  }
}

/** After a change of settings: shown at once, without another read. */
export function replaceOrganization(tenant: Organization): void {
  organization.set({ tenant, blocked: null, loading: false });
  applySettings(tenant);
}
