// Settings: the organization's name, personalization (display name, logo, colour, locale, time
// zone), feature flags and the two-step verification requirement; and, for admins, deleting the
// organization. PATCH /tenant replaces the whole settings document, so the page sends the whole
// document whenever any part of it changed, and only the other fields that changed.
import { useEffect, useState } from "preact/hooks";
import { api, type Schemas } from "../api";
import { mfaEnabled, refresh, session } from "../auth";
import { loadOrganization, organization, replaceOrganization, type Organization } from "../org";
import { navigate } from "../router";
import { useStore } from "../store";
import { Alert, Field, FieldFrame, PageTitle, Select, fieldOf, messageOf } from "../ui/kit";
import { StaleAlert, isStale } from "../ui/stale";
import { announceOrganizationsChanged } from "../ui/switcher";

type SettingsInput = Schemas["TenantSettingsInput"];

interface Form {
  name: string;
  display_name: string;
  logo_url: string;
  /** `#rrggbb`, or "" when the organization keeps the console's colour. */
  primary_color: string;
  locale: string;
  time_zone: string;
  flags: Record<string, boolean>;
  require_mfa: boolean;
}

type FormField = keyof Form | "new_flag";

/** The API's field names (`validation-failed`) and the form's. */
const API_FIELDS: Record<string, FormField> = {
  name: "name",
  "settings.display_name": "display_name",
  "settings.logo_url": "logo_url",
  "settings.primary_color": "primary_color",
  "settings.locale": "locale",
  "settings.time_zone": "time_zone",
  "settings.feature_flags": "new_flag",
  require_mfa: "require_mfa",
};

/** The console's own colour, shown by the colour picker while none is chosen. */
const DEFAULT_COLOR = "#2457c5";

const LOCALES = ["en", "en-GB", "en-US", "fr", "fr-FR", "fr-CA", "de", "es", "it", "nl", "pt-BR", "ja"];

const FLAG_NAME = /^[a-z0-9_-]{1,40}$/;
const MAX_FLAGS = 32;

function toForm(tenant: Organization): Form {
  const s = tenant.settings;
  return {
    name: tenant.name,
    display_name: s.display_name ?? "",
    logo_url: s.logo_url ?? "",
    primary_color: s.primary_color ?? "",
    locale: s.locale ?? "",
    time_zone: s.time_zone ?? "",
    flags: { ...(s.feature_flags ?? {}) },
    require_mfa: tenant.require_mfa,
  };
}

/** The settings document the form describes (empty fields are left out, as the API stores them). */
function settingsOf(form: Form): SettingsInput {
  const doc: SettingsInput = {};
  if (form.display_name.trim()) doc.display_name = form.display_name;
  if (form.logo_url.trim()) doc.logo_url = form.logo_url.trim();
  if (form.primary_color) doc.primary_color = form.primary_color;
  if (form.locale) doc.locale = form.locale;
  if (form.time_zone) doc.time_zone = form.time_zone;
  if (Object.keys(form.flags).length) doc.feature_flags = { ...form.flags };
  return doc;
}

/** A document's JSON with its keys sorted, to compare two documents. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

function languageNames(): (code: string) => string {
  try {
    const names = new Intl.DisplayNames(["en"], { type: "language" });
    return (code) => `${names.of(code) ?? code} (${code})`;
  } catch {
    return (code) => code;
  }
}

function timeZones(): string[] {
  const supported = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return ["UTC", ...supported.filter((zone) => zone !== "UTC")];
}

export default function Settings() {
  const claims = useStore(session)?.claims;
  const org = useStore(organization);
  const admin = claims?.tenant_role === "admin";
  // The organization the form was filled from: its version is the one a save is based on.
  const [base, setBase] = useState<Organization | null>(null);
  const [form, setForm] = useState<Form | null>(null);
  const [newFlag, setNewFlag] = useState("");
  const [errors, setErrors] = useState<Partial<Record<FormField, string>>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [notice, setNotice] = useState<"saved" | "unchanged" | null>(null);
  const [conflict, setConflict] = useState(false);
  const [saving, setSaving] = useState(false);
  const [mfaWarning, setMfaWarning] = useState(false);

  const reset = (tenant: Organization) => {
    setBase(tenant);
    setForm(toForm(tenant));
    setErrors({});
    setFormError(null);
    setConflict(false);
    setNewFlag("");
  };

  useEffect(() => {
    if (org.tenant && !base) reset(org.tenant);
  }, [org.tenant]);

  if (!org.tenant || !base || !form) {
    return (
      <>
        <PageTitle>Settings</PageTitle>
        {org.loading && <p class="muted">Loading…</p>}
      </>
    );
  }

  const update = (change: Partial<Form>) => {
    setForm({ ...form, ...change });
    setNotice(null);
    const touched = Object.keys(change) as FormField[];
    if (touched.some((key) => errors[key])) {
      const next = { ...errors };
      for (const key of touched) delete next[key];
      setErrors(next);
    }
  };

  const addFlag = () => {
    const name = newFlag.trim();
    let problem: string | null = null;
    if (!FLAG_NAME.test(name)) problem = "Use 1 to 40 of a–z, 0–9, _ and -.";
    else if (name in form.flags) problem = "There is a flag with this name already.";
    else if (Object.keys(form.flags).length >= MAX_FLAGS) problem = `At most ${MAX_FLAGS} flags.`;
    setErrors({ ...errors, new_flag: problem ?? undefined });
    if (problem) return;
    update({ flags: { ...form.flags, [name]: true } });
    setNewFlag("");
  };

  const chooseMfa = (on: boolean) => {
    update({ require_mfa: on });
    setMfaWarning(false);
    // Requiring it without having it would lock the admin out until they set it up.
    if (on && !base.require_mfa) mfaEnabled().then((enabled) => setMfaWarning(!enabled), () => undefined);
  };

  const save = async (event: Event) => {
    event.preventDefault();
    setErrors({});
    setFormError(null);
    setNotice(null);
    setConflict(false);
    const body: { name?: string; settings?: SettingsInput; require_mfa?: boolean } = {};
    if (form.name.trim() !== base.name) body.name = form.name.trim();
    const settings = settingsOf(form);
    if (canonical(settings) !== canonical(base.settings)) body.settings = settings;
    if (form.require_mfa !== base.require_mfa) body.require_mfa = form.require_mfa;
    if (!Object.keys(body).length) {
      setNotice("unchanged");
      return;
    }
    setSaving(true);
    try {
      const { data } = await api.patch("/tenant", { body, ifMatch: `"${base.version}"` });
      // The answer has no limits or usage: those of the organization as last read stay.
      const current = organization.get().tenant ?? base;
      const status = data.status === "provisioning" || data.status === "active" ? data.status : current.status;
      const next: Organization = { ...current, ...data, status };
      replaceOrganization(next);
      reset(next);
      setNotice("saved");
    } catch (error) {
      if (isStale(error)) {
        setConflict(true);
      } else {
        const field = API_FIELDS[fieldOf(error) ?? ""];
        if (field) setErrors({ [field]: messageOf(error) });
        else setFormError(messageOf(error));
      }
    } finally {
      setSaving(false);
    }
  };

  const reload = async () => {
    await loadOrganization();
    const latest = organization.get().tenant;
    if (latest) reset(latest);
    setMfaWarning(false);
  };

  const nameOf = languageNames();
  const locales = [...LOCALES, ...(form.locale && !LOCALES.includes(form.locale) ? [form.locale] : [])];
  const zones = timeZones();
  if (form.time_zone && !zones.includes(form.time_zone)) zones.push(form.time_zone);
  const flagNames = Object.keys(form.flags).sort();

  return (
    <>
      <PageTitle>Settings</PageTitle>
      {!admin && <Alert kind="info">Only admins can change the settings.</Alert>}
      {conflict && <StaleAlert onReload={reload} button="secondary" />}
      {formError && <Alert>{formError}</Alert>}
      {notice === "saved" && <Alert kind="success">Settings saved.</Alert>}
      {notice === "unchanged" && <Alert kind="info">Nothing has changed.</Alert>}
      <form class="card settings" onSubmit={save} noValidate>
        <fieldset class="plain" disabled={!admin}>
          <Field
            label="Organization name"
            value={form.name}
            onValue={(name) => update({ name })}
            error={errors.name}
            autoComplete="organization"
            maxLength={100}
            required
          />
          <Field
            label="Display name"
            value={form.display_name}
            onValue={(display_name) => update({ display_name })}
            error={errors.display_name}
            hint="Shown in the header instead of the name, if set."
            maxLength={100}
          />
          <Field
            label="Logo URL"
            type="url"
            value={form.logo_url}
            onValue={(logo_url) => update({ logo_url })}
            error={errors.logo_url}
            hint="An https:// address of an image."
            inputMode="url"
            autoComplete="off"
          />
          <ColourField
            value={form.primary_color}
            onValue={(primary_color) => update({ primary_color })}
            error={errors.primary_color}
            editable={admin}
          />
          <Select
            label="Language and region"
            value={form.locale}
            onValue={(locale) => update({ locale })}
            error={errors.locale}
            disabled={!admin}
            options={[{ value: "", label: "Not set (each person's browser)" }, ...locales.map((code) => ({ value: code, label: nameOf(code) }))]}
          />
          <Select
            label="Time zone"
            value={form.time_zone}
            onValue={(time_zone) => update({ time_zone })}
            error={errors.time_zone}
            disabled={!admin}
            options={[{ value: "", label: "Not set (each person's browser)" }, ...zones.map((zone) => ({ value: zone, label: zone }))]}
          />
          <fieldset class="plain flags">
            <legend>Feature flags</legend>
            {flagNames.length === 0 && <p class="muted">No feature flags.</p>}
            {flagNames.map((flag) => (
              <div class="checkbox" key={flag}>
                <input
                  type="checkbox"
                  id={`flag-${flag}`}
                  checked={form.flags[flag]}
                  onChange={(event) => update({ flags: { ...form.flags, [flag]: (event.target as HTMLInputElement).checked } })}
                />
                <label for={`flag-${flag}`}>{flag}</label>
                {admin && (
                  <button
                    type="button"
                    class="link"
                    aria-label={`Remove flag ${flag}`}
                    onClick={() => {
                      const flags = { ...form.flags };
                      delete flags[flag];
                      update({ flags });
                    }}
                  >
                    Remove
                  </button>
                )}
              </div>
            ))}
            {admin && (
              <div class="add-flag">
                <Field
                  label="New flag name"
                  value={newFlag}
                  onValue={(value) => {
                    setNewFlag(value);
                    if (errors.new_flag) setErrors({ ...errors, new_flag: undefined });
                  }}
                  onKeyDown={(event) => {
                    // Enter adds the flag rather than saving the form.
                    if (event.key === "Enter") {
                      event.preventDefault();
                      addFlag();
                    }
                  }}
                  error={errors.new_flag}
                  hint="1 to 40 of a–z, 0–9, _ and -."
                  autoComplete="off"
                  maxLength={40}
                />
                <button type="button" class="secondary" onClick={addFlag}>
                  Add flag
                </button>
              </div>
            )}
          </fieldset>
          <div class="checkbox">
            <input
              type="checkbox"
              id="require-mfa"
              checked={form.require_mfa}
              aria-describedby="require-mfa-hint"
              onChange={(event) => chooseMfa((event.target as HTMLInputElement).checked)}
            />
            <label for="require-mfa">Require two-step verification for everyone</label>
          </div>
          <p class="hint muted" id="require-mfa-hint">
            Everyone then signs in with a code from an authenticator app. Turn it on for your own account first, on your{" "}
            <a href="/profile">profile</a>, or you will have to set it up before you can go on.
          </p>
          {errors.require_mfa && (
            <p class="error" role="alert">
              {errors.require_mfa}
            </p>
          )}
          {mfaWarning && form.require_mfa && (
            <Alert kind="warning">
              You have not turned on two-step verification for your own account yet. <a href="/profile">Set it up first</a>.
            </Alert>
          )}
        </fieldset>
        {admin && (
          <div class="actions">
            <button type="submit" disabled={saving}>
              {saving && <span class="spinner" aria-hidden="true" />}
              Save settings
            </button>
          </div>
        )}
      </form>
      {admin && <DangerZone name={base.name} />}
    </>
  );
}

/** The brand colour: a colour picker, and its value as text. */
function ColourField({
  value,
  onValue,
  error,
  editable,
}: {
  value: string;
  onValue: (value: string) => void;
  error?: string;
  editable: boolean;
}) {
  return (
    <FieldFrame label="Brand colour" error={error}>
      {(id, describedBy) => (
        <div class="colour-row">
          <input
            id={id}
            type="color"
            class="colour"
            value={value || DEFAULT_COLOR}
            onInput={(event) => onValue((event.target as HTMLInputElement).value)}
            aria-describedby={`${id}-hex${describedBy ? ` ${describedBy}` : ""}`}
            aria-invalid={error ? "true" : undefined}
          />
          <span id={`${id}-hex`}>
            {value ? <code>{value.toUpperCase()}</code> : <span class="muted">Not set: the console's colour</span>}
          </span>
          {editable && value && (
            <button type="button" class="link" onClick={() => onValue("")}>
              Use the console's colour
            </button>
          )}
        </div>
      )}
    </FieldFrame>
  );
}

/** Deleting the organization, once its name is typed. */
function DangerZone({ name }: { name: string }) {
  const [typed, setTyped] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const matches = typed.trim() === name;
  const remove = async (event: Event) => {
    event.preventDefault();
    if (!matches) return;
    setBusy(true);
    setError(null);
    try {
      // The document takes no version for this route: the organization as it is now is deleted.
      await api.delete("/tenant");
      // The tokens carry this organization until they are renewed; the next ones carry another or none.
      await refresh();
      announceOrganizationsChanged();
      navigate("/");
    } catch (err) {
      setError(messageOf(err));
      setBusy(false);
    }
  };
  return (
    <section class="card danger-zone" aria-labelledby="delete-title">
      <h2 id="delete-title">Delete this organization</h2>
      <p>
        Deleting starts at once and cannot be undone: nobody can use the organization any more, its members lose access, and its
        products, orders, users and settings are erased.
      </p>
      {error && <Alert>{error}</Alert>}
      <form onSubmit={remove} noValidate>
        <Field
          label="Type the organization's name to confirm"
          value={typed}
          onValue={setTyped}
          hint={
            <>
              Its name is <strong>{name}</strong>.
            </>
          }
          autoComplete="off"
        />
        <button type="submit" class="danger" disabled={!matches || busy}>
          {busy && <span class="spinner" aria-hidden="true" />}
          Delete organization
        </button>
      </form>
    </section>
  );
}
