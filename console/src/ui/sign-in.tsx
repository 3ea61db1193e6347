// What signing in is made of, for the sign-in page and for the dialog the shell opens when a
// session ends while a page is open: the challenges Cognito may ask for, the errors in the
// person's words, the form's state.
import type { JSX } from "preact";
import { useEffect, useId, useRef, useState } from "preact/hooks";
import {
  CognitoError,
  answerChallenge,
  lastEmail,
  signIn,
  signOut,
  type Challenge,
  type Session,
} from "../auth";
import { navigate } from "../router";
import { CodeField, EmailField, NewPasswordField, passwordProblem } from "./auth-fields";
import { Alert, Field, messageOf } from "./kit";
import { normalEmail } from "../email";

/** Why the last session ended, in the person's words. */
export function endedText(reason: string | null): string | null {
  switch (reason) {
    case null:
    case "":
      return null;
    case "signed-out":
      return "You are signed out.";
    case "revoked":
      return "Your access to this organization has changed or was withdrawn. Sign in again.";
    default:
      return "Your session has ended. Sign in again.";
  }
}

export function isChallenge(result: Session | Challenge): result is Challenge {
  return "name" in result;
}

export type Submit = JSX.TargetedEvent<HTMLFormElement, Event>;

/** The field a challenge asks for: a new password, or the authenticator app's code. */
export function ChallengeField({
  challenge,
  value,
  onValue,
  error,
}: {
  challenge: Challenge;
  value: string;
  onValue: (value: string) => void;
  error: string | null;
}) {
  if (challenge.name === "NEW_PASSWORD_REQUIRED") {
    return <NewPasswordField value={value} onValue={onValue} error={error} />;
  }
  return (
    <CodeField
      label="Authentication code"
      pattern="[0-9]{6}"
      maxLength={6}
      value={value}
      onValue={(v) => onValue(v.replace(/\s/g, ""))}
      error={error}
      hint="The 6-digit code your authenticator app shows now."
    />
  );
}

/** A challenge's answer checked before it is sent: the field's error, or null. */
export function checkAnswer(challenge: Challenge, answer: string): string | null {
  return challenge.name === "NEW_PASSWORD_REQUIRED" ? passwordProblem(answer) : null;
}

export const CHALLENGE_TEXT = {
  NEW_PASSWORD_REQUIRED: {
    title: "Choose a new password",
    lead: "Your account has a temporary password. Choose your own to continue.",
    submit: "Set password",
    busy: "Setting password…",
  },
  SOFTWARE_TOKEN_MFA: {
    title: "Two-step verification",
    lead: "Enter the code from your authenticator app.",
    submit: "Verify",
    busy: "Verifying…",
  },
} as const;

/** A sign-in failure: its message, and for an unconfirmed account the way to confirm it. */
export function SignInError({ error, email }: { error: unknown; email: string }) {
  return (
    <Alert>
      {messageOf(error)}
      {error instanceof CognitoError && error.code === "UserNotConfirmedException" && (
        <>
          {" "}
          <a href={`/confirm?email=${encodeURIComponent(normalEmail(email))}`}>Confirm your e-mail address</a>
        </>
      )}
    </Alert>
  );
}

/**
 * Signing in: the e-mail address and password, then each challenge Cognito asks for and its
 * answer. `run` runs each step (the sign-in page keeps its `next` address through it);
 * `onSignedIn` follows once a session started.
 */
export function useSignIn({
  initialEmail,
  run = (step) => step(),
  onSignedIn,
}: {
  initialEmail: () => string;
  run?: (step: () => Promise<Session | Challenge>) => Promise<Session | Challenge>;
  onSignedIn?: () => void;
}) {
  const [email, setEmail] = useState(initialEmail);
  const [password, setPassword] = useState("");
  const [challenge, setChallenge] = useState<Challenge | null>(null);
  const [answer, setAnswer] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [answerError, setAnswerError] = useState<string | null>(null);

  async function submit(event: Submit) {
    event.preventDefault();
    if (busy) return;
    setError(null);
    setAnswerError(null);
    if (challenge) {
      const problem = checkAnswer(challenge, answer);
      if (problem) {
        setAnswerError(problem);
        return;
      }
    }
    setBusy(true);
    try {
      const result = await run(() => (challenge ? answerChallenge(challenge, answer) : signIn(normalEmail(email), password)));
      if (isChallenge(result)) {
        setChallenge(result);
        setAnswer("");
      } else {
        onSignedIn?.();
      }
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  }

  function startOver() {
    setChallenge(null);
    setAnswer("");
    setPassword("");
    setError(null);
    setAnswerError(null);
  }

  return { email, setEmail, password, setPassword, challenge, answer, setAnswer, busy, error, answerError, submit, startOver };
}

/** The first step's fields: the account's e-mail address and its password. */
export function Credentials({ state, autoFocus }: { state: ReturnType<typeof useSignIn>; autoFocus?: boolean }) {
  return (
    <>
      <EmailField value={state.email} onValue={state.setEmail} />
      <Field
        label="Password"
        type="password"
        name="password"
        autoComplete="current-password"
        required
        autoFocus={autoFocus}
        value={state.password}
        onValue={state.setPassword}
      />
    </>
  );
}

/** Signing out, then the sign-in page. */
export function SignOutButton() {
  return (
    <button
      type="button"
      class="secondary"
      onClick={async () => {
        await signOut();
        navigate("/sign-in", true);
      }}
    >
      Sign out
    </button>
  );
}

/**
 * Asks for the password again when the session ended while a page was open, over that page, so
 * nothing typed there is lost. Modal: focus stays inside and Escape does not close it. Once
 * signed in, the shell takes the dialog away.
 */
export function ReauthDialog({ reason }: { reason: string }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const form = useRef<HTMLFormElement>(null);
  const titleId = useId();
  const textId = useId();
  const state = useSignIn({ initialEmail: lastEmail });
  const { challenge, busy, error, email } = state;

  useEffect(() => {
    const element = dialog.current;
    if (!element) return;
    const hold = (event: Event) => event.preventDefault();
    // Browsers close a modal dialog on a repeated Escape even when `cancel` is refused: open it again.
    const reopen = () => {
      if (element.isConnected && !element.open) element.showModal();
    };
    element.addEventListener("cancel", hold);
    element.addEventListener("close", reopen);
    if (!element.open) element.showModal();
    return () => {
      element.removeEventListener("cancel", hold);
      element.removeEventListener("close", reopen);
    };
  }, []);

  // A new step: its field takes the focus (autofocus only applies when the dialog opens).
  useEffect(() => {
    if (challenge) form.current?.querySelector("input")?.focus();
  }, [challenge]);

  const text = challenge ? CHALLENGE_TEXT[challenge.name] : null;
  return (
    <dialog ref={dialog} class="reauth" aria-labelledby={titleId} aria-describedby={textId}>
      <h2 id={titleId}>Sign in again</h2>
      {text && <h3>{text.title}</h3>}
      <p id={textId}>{text ? text.lead : endedText(reason)}</p>
      {error ? <SignInError error={error} email={email} /> : null}
      <form ref={form} onSubmit={state.submit}>
        {challenge ? (
          <ChallengeField challenge={challenge} value={state.answer} onValue={state.setAnswer} error={state.answerError} />
        ) : (
          <Credentials state={state} autoFocus={Boolean(email)} />
        )}
        <div class="actions">
          <button type="submit" disabled={busy}>
            {busy ? (text?.busy ?? "Signing in…") : (text?.submit ?? "Sign in")}
          </button>
          <SignOutButton />
        </div>
      </form>
    </dialog>
  );
}
