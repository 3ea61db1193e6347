// Signing in (/sign-in), with the challenges Cognito may ask for (a new password in place of a
// temporary one, a TOTP code), resetting a forgotten password (/forgot-password). What
// they are made of is in ui/sign-in.tsx, shared with the dialog that asks for the password again.

import { useState } from "preact/hooks";
import {
  CognitoError,
  confirmForgotPassword,
  forgotPassword,
  lastEmail,
  session,
  sessionEnded,
  type Challenge,
  type Session,
} from "../auth";
import { navigate, useLocation } from "../router";
import { useStore } from "../store";
import { CodeField, EmailField, NewPasswordField, passwordProblem } from "../ui/auth-fields";
import { Alert, PageTitle, messageOf } from "../ui/kit";
import { normalEmail } from "../email";
import { CHALLENGE_TEXT, ChallengeField, Credentials, endedText, SignInError, Submit, useSignIn } from "../ui/sign-in";

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
