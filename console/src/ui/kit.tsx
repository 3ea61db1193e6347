// The console's few building blocks: fields with their errors, buttons, alerts, usage bars,
// and a hook that loads what a page shows. Every field has a label; errors are announced.
import type { ComponentChildren, JSX } from "preact";
import { useCallback, useEffect, useId, useRef, useState } from "preact/hooks";
import { ApiError, SESSION_ENDED } from "../api";
import { CognitoError } from "../auth";

/** A page's title: focused when the page changes, so keyboard and screen-reader users land on it. */
export function PageTitle({ children }: { children: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    ref.current?.focus();
  }, []);
  return (
    <h1 tabIndex={-1} ref={ref}>
      {children}
    </h1>
  );
}

/**
 * A field's frame: its label, the control, then its hint and its error. The control is drawn by
 * `children`, given the id it takes and the ids of the hint and error that describe it.
 */
export function FieldFrame({
  label,
  error,
  hint,
  children,
}: {
  label: string;
  error?: string | null;
  hint?: ComponentChildren;
  children: (id: string, describedBy: string | undefined) => ComponentChildren;
}) {
  const id = useId();
  const describedBy = [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ") || undefined;
  return (
    <div class={`field${error ? " invalid" : ""}`}>
      <label for={id}>{label}</label>
      {children(id, describedBy)}
      {hint && (
        <div class="hint" id={`${id}-hint`}>
          {hint}
        </div>
      )}
      {error && (
        <div class="error" id={`${id}-error`} role="alert">
          {error}
        </div>
      )}
    </div>
  );
}

type InputProps = Omit<JSX.InputHTMLAttributes<HTMLInputElement>, "label" | "onInput" | "value"> & {
  label: string;
  value: string;
  onValue: (value: string) => void;
  error?: string | null;
  hint?: ComponentChildren;
};

export function Field({ label, value, onValue, error, hint, ...rest }: InputProps) {
  return (
    <FieldFrame label={label} error={error} hint={hint}>
      {(id, describedBy) => (
        <input
          id={id}
          value={value}
          onInput={(event) => onValue((event.target as HTMLInputElement).value)}
          aria-invalid={error ? "true" : undefined}
          aria-describedby={describedBy}
          {...rest}
        />
      )}
    </FieldFrame>
  );
}

type SelectProps = {
  label: string;
  value: string;
  onValue: (value: string) => void;
  options: { value: string; label: string }[];
  error?: string | null;
  disabled?: boolean;
  name?: string;
};

export function Select({ label, value, onValue, options, error, disabled, name }: SelectProps) {
  return (
    <FieldFrame label={label} error={error}>
      {(id, describedBy) => (
        <select
          id={id}
          name={name}
          value={value}
          disabled={disabled}
          onChange={(event) => onValue((event.target as HTMLSelectElement).value)}
          aria-invalid={error ? "true" : undefined}
          aria-describedby={describedBy}
        >
          {options.map((option) => (
            <option key={option.value} value={option.value}>
              {option.label}
            </option>
          ))}
        </select>
      )}
    </FieldFrame>
  );
}

export function Alert({ kind = "error", children }: { kind?: "error" | "info" | "success" | "warning"; children: ComponentChildren }) {
  return (
    <div class={`alert ${kind}`} role={kind === "error" ? "alert" : "status"}>
      {children}
    </div>
  );
}

/** A usage bar: what is used of what the plan allows. */
export function Usage({ label, used, limit }: { label: string; used: number; limit: number }) {
  const share = limit > 0 ? Math.min(1, used / limit) : 1;
  return (
    <div class="usage">
      <div class="usage-label">
        <span>{label}</span>
        <span>
          {used.toLocaleString()} / {limit.toLocaleString()}
        </span>
      </div>
      <div
        class={`bar${share >= 0.9 ? " full" : ""}`}
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={limit}
        aria-valuenow={used}
      >
        <span ref={(el) => el?.style.setProperty("width", `${Math.round(share * 100)}%`)} />
      </div>
    </div>
  );
}

/** A message for whatever went wrong: the API's `detail`, Cognito's message, or a generic one. */
export function messageOf(error: unknown): string {
  if (error instanceof ApiError || error instanceof CognitoError) return error.message;
  return "Something went wrong. Try again.";
}

/** The field an API problem names (`validation-failed`), to show its message next to it. */
export function fieldOf(error: unknown): string | null {
  return error instanceof ApiError ? (error.problem.field ?? null) : null;
}

export interface Loaded<T> {
  data: T | null;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/**
 * Loads what a page shows. A 503 `tenant-provisioning` (the organization's storage is being
 * moved) is retried after the `Retry-After` it names, and shown as progress meanwhile.
 */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[] = []): Loaded<T> & { provisioning: boolean } {
  const [state, setState] = useState<{ data: T | null; error: unknown; loading: boolean; provisioning: boolean }>({
    data: null,
    error: null,
    loading: true,
    provisioning: false,
  });
  const [round, setRound] = useState(0);
  const reload = useCallback(() => setRound((n) => n + 1), []);
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, error: null, loading: false, provisioning: false }),
      (error) => {
        if (!live) return;
        if (error instanceof ApiError && error.code === "tenant-provisioning") {
          setState((s) => ({ ...s, loading: true, provisioning: true }));
          timer = setTimeout(reload, (error.retryAfter ?? 2) * 1000);
          return;
        }
        if (error instanceof ApiError && error.code === SESSION_ENDED) return;
        setState({ data: null, error, loading: false, provisioning: false });
      },
    );
    return () => {
      live = false;
      if (timer) clearTimeout(timer);
    };
  }, [round, ...deps]);
  return { ...state, reload };
}

/** What a page shows while it loads or when loading failed. */
export function LoadState({ state }: { state: { loading: boolean; error: unknown; provisioning: boolean; reload: () => void } }) {
  if (state.provisioning) {
    return (
      <Alert kind="info">
        <span class="spinner" aria-hidden="true" /> Your organization's storage is being prepared. This page will refresh by itself.
      </Alert>
    );
  }
  if (state.error) {
    return (
      <Alert>
        {messageOf(state.error)}{" "}
        <button type="button" class="link" onClick={state.reload}>
          Try again
        </button>
      </Alert>
    );
  }
  if (state.loading) return <p class="muted" aria-live="polite">Loading…</p>;
  return null;
}
