// An organization that uses more than its plan allows is read-only: the pages that add and change
// its items say so, and their "New …" button is disabled until it is within the plan again.
import type { ComponentChildren } from "preact";
import { Alert } from "./kit";

/** Why `what` cannot be done now ("orders cannot be placed or moved"), and where to see the plan. */
export function ReadOnlyAlert({ what }: { what: string }) {
  return (
    <Alert kind="warning">
      This organization uses more than its plan allows, so {what} until it is within the plan again. <a href="/billing">See the plan</a>.
    </Alert>
  );
}

/** The button that opens a page's form for a new item. */
export function NewButton({ readOnly, onClick, children }: { readOnly: boolean; onClick: () => void; children: ComponentChildren }) {
  return (
    <div class="actions">
      <button type="button" disabled={readOnly} onClick={onClick}>
        {children}
      </button>
    </div>
  );
}
