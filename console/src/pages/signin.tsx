// Signing in (/sign-in), with the challenges Cognito may ask for (a new password in place of a
// temporary one, a TOTP code), resetting a forgotten password (/forgot-password), and the dialog
// that asks for the password again when a session ends while a page is open.
import type { JSX } from "preact";
import { useEffect, useId, useRef, useState } from "preact/hooks";
import {
  CognitoError,
  answerChallenge,
  confirmForgotPassword,
  forgotPassword,
  lastEmail,
  session,
  sessionEnded,
  signIn,
  signOut,
  type Challenge,
  type Session,
} from "../auth";
import { navigate, useLocation } from "../router";
import { useStore } from "../store";
import { CodeField, EmailField, NewPasswordField, passwordProblem } from "../ui/auth-fields";
import { Alert, Field, PageTitle, messageOf } from "../ui/kit";

/** Why the last session ended, in the person's words. */
function endedText(reason: string | null): string | null {
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

export function normalEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** Where to go after signing in: a path of this console only, never another origin. */
function nextPath(query: URLSearchParams): string {
  const next = query.get("next") ?? "/";
  return next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : "/";
}

/**
 * Runs a sign-in step, moving to `next` the moment a session starts. The address changes inside
 * the session store's update, before the shell replaces this page: a shell that mounted on
 * /sign-in would send the person to "/" and lose `next`.
 */
async function goingTo(next: string, step: () => Promise<Session | Challenge>): Promise<Session | Challenge> {
  const stop = session.subscribe((current) => {
    if (current) navigate(next, true);
  });
  try {
    return await step();
  } finally {
    stop();
  }
}

function isChallenge(result: Session | Challenge): result is Challenge {
  return "name" in result;
}

type Submit = JSX.TargetedEvent<HTMLFormElement, Event>;

/** The field a challenge asks for: a new password, or the authenticator app's code. */
function ChallengeField({
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
function checkAnswer(challenge: Challenge, answer: string): string | null {
  return challenge.name === "NEW_PASSWORD_REQUIRED" ? passwordProblem(answer) : null;
}

const CHALLENGE_TEXT = {
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
function SignInError({ error, email }: { error: unknown; email: string }) {
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
function useSignIn({
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
function Credentials({ state, autoFocus }: { state: ReturnType<typeof useSignIn>; autoFocus?: boolean }) {
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

export default function Page() {
  const { path } = useLocation();
  return path === "/forgot-password" ? <ForgotPassword /> : <SignIn />;
}

function SignIn() {
  const { query } = useLocation();
  const ended = useStore(sessionEnded);
  const state = useSignIn({
    initialEmail: () => query.get("email") ?? lastEmail(),
    run: (step) => goingTo(nextPath(query), step),
    onSignedIn: () => navigate(nextPath(query), true),
  });
  const { challenge, busy, error, email } = state;

  if (challenge) {
    const text = CHALLENGE_TEXT[challenge.name];
    return (
      <>
        <PageTitle key={challenge.name}>{text.title}</PageTitle>
        <p class="muted">{text.lead}</p>
        {error ? <SignInError error={error} email={email} /> : null}
        <form onSubmit={state.submit}>
          <ChallengeField challenge={challenge} value={state.answer} onValue={state.setAnswer} error={state.answerError} />
          <button type="submit" disabled={busy}>
            {busy ? text.busy : text.submit}
          </button>
        </form>
        <div class="auth-links">
          <button type="button" class="link" onClick={state.startOver}>
            Start over
          </button>
        </div>
      </>
    );
  }

  const endedMessage = endedText(ended);
  return (
    <>
      <PageTitle key="sign-in">Sign in</PageTitle>
      {query.get("confirmed") === "1" && <Alert kind="success">Your e-mail address is confirmed. Sign in to continue.</Alert>}
      {query.get("reset") === "1" && <Alert kind="success">Your password is changed. Sign in with it.</Alert>}
      {endedMessage && <Alert kind={ended === "signed-out" ? "info" : "warning"}>{endedMessage}</Alert>}
      {error ? <SignInError error={error} email={email} /> : null}
      <form onSubmit={state.submit}>
        <Credentials state={state} />
        <button type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
      <div class="auth-links">
        <a href="/sign-up">Create an organization</a>
        <a href="/forgot-password">Forgot your password?</a>
      </div>
    </>
  );
}

function ForgotPassword() {
  const { query } = useLocation();
  const [email, setEmail] = useState(() => query.get("email") ?? lastEmail());
  const [sentTo, setSentTo] = useState<string | null>(null);
  const [code, setCode] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [passwordError, setPasswordError] = useState<string | null>(null);

  async function send(event: Submit) {
    event.preventDefault();
    if (busy) return;
    const address = normalEmail(email);
    setError(null);
    setBusy(true);
    try {
      await forgotPassword(address);
      setSentTo(address);
    } catch (failure) {
      // Whether an account exists is not told here, so an unknown address reads like a known one.
      if (failure instanceof CognitoError && failure.code === "UserNotFoundException") setSentTo(address);
      else setError(failure);
    } finally {
      setBusy(false);
    }
  }

  async function reset(event: Submit) {
    event.preventDefault();
    if (busy || !sentTo) return;
    setError(null);
    const problem = passwordProblem(password);
    setPasswordError(problem);
    if (problem) return;
    setBusy(true);
    try {
      await confirmForgotPassword(sentTo, code.trim(), password);
      navigate(`/sign-in?email=${encodeURIComponent(sentTo)}&reset=1`);
    } catch (failure) {
      setError(failure);
      setBusy(false);
    }
  }

  if (!sentTo) {
    return (
      <>
        <PageTitle key="request">Reset your password</PageTitle>
        <p class="muted">Enter your e-mail address: we will send you a code to choose a new password.</p>
        {error ? <Alert>{messageOf(error)}</Alert> : null}
        <form onSubmit={send}>
          <EmailField value={email} onValue={setEmail} />
          <button type="submit" disabled={busy}>
            {busy ? "Sending code…" : "Send code"}
          </button>
        </form>
        <div class="auth-links">
          <a href="/sign-in">Back to sign in</a>
        </div>
      </>
    );
  }

  return (
    <>
      <PageTitle key="reset">Reset your password</PageTitle>
      <Alert kind="info">If an account exists for {sentTo}, we sent it a code.</Alert>
      {error ? <Alert>{messageOf(error)}</Alert> : null}
      <form onSubmit={reset}>
        {/* The account's name, for password managers that save the new password. */}
        <input type="email" name="email" autoComplete="username" value={sentTo} readOnly hidden />
        <CodeField label="Code" value={code} onValue={setCode} />
        <NewPasswordField value={password} onValue={setPassword} error={passwordError} />
        <button type="submit" disabled={busy}>
          {busy ? "Resetting password…" : "Reset password"}
        </button>
      </form>
      <div class="auth-links">
        <button
          type="button"
          class="link"
          onClick={() => {
            setSentTo(null);
            setCode("");
            setPassword("");
            setError(null);
            setPasswordError(null);
          }}
        >
          Use another e-mail address
        </button>
        <a href="/sign-in">Back to sign in</a>
      </div>
    </>
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
