// The pieces both lists of the Integrations page are made of: checkbox groups, the create form,
// row actions with their confirmation, the secret shown once.
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { ConfirmButton } from "../../ui/confirm";
import { Alert, Field, fieldOf, messageOf } from "../../ui/kit";

/** A message about the last action on a list, in an Alert above it. */
export type Notice = { kind: "success" | "info" | "error"; content: ComponentChildren } | null;

/** Only one deletion waits for its confirmation at a time, on the whole page. */
export interface Confirming {
  key: string | null;
  set: (key: string | null) => void;
}

/** A group of checkboxes with its legend, "Select all", and the error the API gave about it. */
export function Checkboxes<T extends string>({
  legend,
  values,
  chosen,
  onChosen,
  error,
  selectAll,
}: {
  legend: string;
  values: T[];
  chosen: T[];
  onChosen: (chosen: T[]) => void;
  error: string | null;
  selectAll?: boolean;
}) {
  const errorId = `${legend.toLowerCase()}-error`;
  return (
    <fieldset class={`choices${error ? " invalid" : ""}`} aria-describedby={error ? errorId : undefined}>
      <legend>{legend}</legend>
      {selectAll && (
        <button type="button" class="secondary" onClick={() => onChosen([...values])}>
          Select all
        </button>
      )}
      <div class="choices-grid">
        {values.map((value) => (
          <label class="checkbox" key={value}>
            <input
              type="checkbox"
              name={legend.toLowerCase()}
              value={value}
              checked={chosen.includes(value)}
              onChange={(event) => {
                const on = (event.target as HTMLInputElement).checked;
                // Kept in the order listed, whatever the order of the clicks.
                onChosen(values.filter((v) => (v === value ? on : chosen.includes(v))));
              }}
            />
            <code>{value}</code>
          </label>
        ))}
      </div>
      {error && (
        <div class="error" id={errorId} role="alert">
          {error}
        </div>
      )}
    </fieldset>
  );
}

/** A delete button, and once pressed its confirmation; focus follows, so the keyboard keeps its place. */
export function ConfirmDelete({
  id,
  label,
  confirm,
  busy,
  onConfirm,
}: {
  id: string;
  label: string;
  confirm: Confirming;
  busy: boolean;
  onConfirm: () => void;
}) {
  return (
    <ConfirmButton
      open={confirm.key === id}
      onOpen={() => confirm.set(id)}
      onCancel={() => confirm.set(null)}
      onConfirm={onConfirm}
      label="Delete"
      ariaLabel={label}
      confirmLabel="Confirm delete"
      busy={busy}
      moveFocus
    />
  );
}

/**
 * The form that adds what is named by one field and a few choices (an endpoint and its events, a
 * client and its scopes). Without a choice it is not sent; the API's errors show by the field they name.
 */
export function useCreateForm<T extends string, R>({
  field,
  choices,
  noChoice,
  create,
  onCreated,
}: {
  /** The API's names of the text field and of the choices. */
  field: string;
  choices: string;
  noChoice: string;
  create: (text: string, chosen: T[]) => Promise<R>;
  onCreated: () => void;
}) {
  const [text, setText] = useState("");
  const [chosen, setChosen] = useState<T[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [choicesError, setChoicesError] = useState<string | null>(null);
  const [created, setCreated] = useState<R | null>(null);
  const [saving, setSaving] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    setChoicesError(null);
    setCreated(null);
    if (chosen.length === 0) {
      setChoicesError(noChoice);
      return;
    }
    setSaving(true);
    try {
      setCreated(await create(text.trim(), chosen));
      setText("");
      setChosen([]);
      onCreated();
    } catch (failure) {
      setError(failure);
      if (fieldOf(failure) === choices) setChoicesError(messageOf(failure));
    } finally {
      setSaving(false);
    }
  };

  const named = fieldOf(error);
  return {
    text,
    setText,
    chosen,
    choose: (next: T[]) => {
      setChosen(next);
      if (next.length) setChoicesError(null);
    },
    created,
    saving,
    submit,
    textError: named === field ? messageOf(error) : null,
    choicesError,
    formError: error && named !== field && named !== choices ? messageOf(error) : null,
  };
}

/** The form of `useCreateForm`: its text field, its checkboxes and its submit button. */
export function CreateForm<T extends string>({
  form,
  field,
  legend,
  values,
  selectAll,
  submit,
}: {
  form: ReturnType<typeof useCreateForm<T, unknown>>;
  field: Omit<Parameters<typeof Field>[0], "value" | "onValue" | "error">;
  legend: string;
  values: T[];
  selectAll?: boolean;
  submit: string;
}) {
  return (
    <form class="card" onSubmit={form.submit} noValidate>
      {form.formError && <Alert>{form.formError}</Alert>}
      <Field {...field} value={form.text} onValue={form.setText} error={form.textError} />
      <Checkboxes legend={legend} values={values} chosen={form.chosen} onChosen={form.choose} error={form.choicesError} selectAll={selectAll} />
      <button type="submit" disabled={form.saving}>
        {form.saving && <span class="spinner" aria-hidden="true" />}
        {submit}
      </button>
    </form>
  );
}

/** One action on one row at a time: its outcome in the notice above the list, which is read again. */
export function useRowActions(reload: () => void) {
  const [notice, setNotice] = useState<Notice>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const act = async (id: string, action: () => Promise<Notice>) => {
    setBusy(id);
    setNotice(null);
    try {
      setNotice(await action());
    } catch (failure) {
      setNotice({ kind: "error", content: messageOf(failure) });
    } finally {
      setBusy(null);
      reload();
    }
  };
  return { notice, busy, act };
}

/** A credential whose secret is known to someone who has left the organization (`orphaned`). */
export function OrphanedNote({ action }: { action: string }) {
  return (
    <div class="cell-note">
      <span class="badge warn">creator left</span> Its secret is known to someone no longer in the organization. {action}
    </div>
  );
}

/** Above a list: how many of its credentials are flagged, and what to do with each. */
export function OrphanedAlert({ count, what, action }: { count: number; what: string; action: string }) {
  if (count === 0) return null;
  return (
    <Alert kind="info">
      {count === 1 ? `One ${what} was` : `${count} ${what}s were`} set up by someone who has left the organization: {action}.
    </Alert>
  );
}

/** "Shown once": the words every secret comes with. */
export function Secret({ label, value }: { label: string; value: string }) {
  return (
    <>
      {label} (shown once): <code class="secret">{value}</code>. Store it now: it will not be shown again.
    </>
  );
}
