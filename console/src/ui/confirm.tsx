// A two-step button for what cannot be undone ("Delete", then "Confirm delete" or "Cancel"). The
// page holds whether it is open, so it can keep one confirmation open at a time, close it when the
// action ends, or hide the row's other buttons meanwhile.
import { useEffect, useRef } from "preact/hooks";

export function ConfirmButton({
  open,
  onOpen,
  onCancel,
  onConfirm,
  label,
  ariaLabel,
  disabled,
  confirmLabel,
  confirmAriaLabel,
  confirmClass = "danger",
  busy,
  spinner,
  cancelDisabled,
  moveFocus,
}: {
  open: boolean;
  onOpen: () => void;
  onCancel: () => void;
  onConfirm: () => void;
  /** The first button's text ("Delete"), and its accessible name when the text alone is not enough. */
  label: string;
  ariaLabel?: string;
  disabled?: boolean;
  /** The confirming button's text ("Confirm delete") and accessible name. */
  confirmLabel: string;
  confirmAriaLabel?: string;
  confirmClass?: string;
  /** The confirmed action is on its way: the confirming button is disabled (with a spinner if asked). */
  busy?: boolean;
  spinner?: boolean;
  cancelDisabled?: boolean;
  /** The focus follows: to the confirming button when it shows, back to the first one after "Cancel". */
  moveFocus?: boolean;
}) {
  const trigger = useRef<HTMLButtonElement>(null);
  const confirmButton = useRef<HTMLButtonElement>(null);
  // Back to the first button after "Cancel" only: after the action, the page moves the focus.
  const cancelled = useRef(false);
  useEffect(() => {
    if (moveFocus) {
      if (open) confirmButton.current?.focus();
      else if (cancelled.current) trigger.current?.focus();
    }
    cancelled.current = false;
  }, [open]);

  if (!open) {
    return (
      <button type="button" class="secondary" aria-label={ariaLabel} ref={trigger} disabled={disabled} onClick={onOpen}>
        {label}
      </button>
    );
  }
  return (
    <>
      <button type="button" class={confirmClass} aria-label={confirmAriaLabel} ref={confirmButton} disabled={busy} onClick={onConfirm}>
        {spinner && busy && <span class="spinner" aria-hidden="true" />}
        {confirmLabel}
      </button>
      <button
        type="button"
        class="secondary"
        disabled={cancelDisabled}
        onClick={() => {
          cancelled.current = true;
          onCancel();
        }}
      >
        Cancel
      </button>
    </>
  );
}
