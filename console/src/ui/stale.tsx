// Versioned writes: a change made from a version that is not the latest any more is refused, and
// the page says so with a "Reload" button that brings the latest version.
import { useState } from "preact/hooks";
import { ApiError } from "../api";
import { Alert, messageOf } from "./kit";

/**
 * A 412, or the 409 the API gives when the version a change was made from is not the latest;
 * `alsoCodes` are other refusals that mean the same on a given page.
 */
export function isStale(error: unknown, ...alsoCodes: string[]): boolean {
  return error instanceof ApiError && (error.status === 412 || error.code === "version-conflict" || alsoCodes.includes(error.code));
}

/** "This was changed by someone else." and the button that reloads the latest version. */
export function StaleAlert({ onReload, disabled, button = "link" }: { onReload: () => void; disabled?: boolean; button?: "link" | "secondary" }) {
  return (
    <Alert kind="warning">
      This was changed by someone else.{" "}
      <button type="button" class={button} disabled={disabled} onClick={onReload}>
        Reload
      </button>
    </Alert>
  );
}

/** What went wrong with a change: StaleAlert when `stale`, otherwise the problem's message. */
export function ProblemAlert({
  error,
  stale,
  onReload,
  disabled,
}: {
  error: unknown;
  stale: boolean;
  onReload: () => void;
  disabled?: boolean;
}) {
  return stale ? <StaleAlert onReload={onReload} disabled={disabled} /> : <Alert>{messageOf(error)}</Alert>;
}

/**
 * A table row's changes: whether one is on its way, the error the last one met, and `reload`,
 * which reads the row's latest version (`readLatest`) and hands it to `onLatest`.
 */
export function useRowChange<T>(readLatest: () => Promise<T>, onLatest: (latest: T) => void) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const reload = async () => {
    setBusy(true);
    try {
      onLatest(await readLatest());
      setError(null);
    } catch (err) {
      setError(err);
    }
    setBusy(false);
  };
  return { busy, setBusy, error, setError, reload };
}

/** The row under a table row that says what its last change met, across the table's columns. */
export function ProblemRow({ columns, ...problem }: { columns: number } & Parameters<typeof ProblemAlert>[0]) {
  return (
    <tr>
      <td colSpan={columns} class="row-note">
        <ProblemAlert {...problem} />
      </td>
    </tr>
  );
}
