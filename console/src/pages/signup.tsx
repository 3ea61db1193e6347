// Creating an organization (/sign-up: the account and its organization at once, the name going
// to the pre-sign-up trigger as `custom:tenant_name`) and confirming the e-mail address with the
// code Cognito sends (/confirm).
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { CognitoError, confirmSignUp, resendCode, signUp } from "../auth";
import { navigate, useLocation } from "../router";
import { CodeField, EmailField, NewPasswordField, passwordProblem } from "../ui/auth-fields";
import { Alert, Field, PageTitle, messageOf } from "../ui/kit";
import { normalEmail } from "../email";

type Submit = JSX.TargetedEvent<HTMLFormElement, Event>;

export default function Page() {
  const { path } = useLocation();
  return path === "/confirm" ? <Confirm /> : <SignUp />;
}

function SignUp() {
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [passwordError, setPasswordError] = useState<string | null>(null);

  async function submit(event: Submit) {
    event.preventDefault();
    if (busy) return;
    setError(null);
    const problem = passwordProblem(password);
    setPasswordError(problem);
    if (problem) return;
    const address = normalEmail(email);
    setBusy(true);
    try {
      await signUp(address, password, name.trim());
      navigate(`/confirm?email=${encodeURIComponent(address)}`);
    } catch (failure) {
      setError(failure);
      setBusy(false);
    }
  }

  const exists = error instanceof CognitoError && error.code === "UsernameExistsException";
  return (
    <>
      <PageTitle>Create your organization</PageTitle>
      <p class="muted">Free to start: the Basic plan, up to 5 users.</p>
      {error ? (
        <Alert>
          {messageOf(error)}
          {exists && (
            <>
              {" "}
              <a href={`/sign-in?email=${encodeURIComponent(normalEmail(email))}`}>Sign in</a>
            </>
          )}
        </Alert>
      ) : null}
      <form onSubmit={submit}>
        <Field
          label="Organization name"
          name="organization"
          autoComplete="organization"
          required
          value={name}
          onValue={setName}
          hint="2 to 100 characters: letters, digits, spaces and & ' . , - ( )"
        />
        <EmailField value={email} onValue={setEmail} autoComplete="email" />
        <NewPasswordField label="Password" name="password" value={password} onValue={setPassword} error={passwordError} />
        <button type="submit" disabled={busy}>
          {busy ? "Creating organization…" : "Create organization"}
        </button>
      </form>
      <div class="auth-links">
        <a href="/sign-in">Already have an account? Sign in</a>
      </div>
    </>
  );
}

function Confirm() {
  const { query } = useLocation();
  const known = query.get("email") ?? "";
  const [email, setEmail] = useState(known);
  const [code, setCode] = useState("");
  const [busy, setBusy] = useState<"confirm" | "resend" | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [emailError, setEmailError] = useState<string | null>(null);
  const [resent, setResent] = useState(false);

  async function confirm(event: Submit) {
    event.preventDefault();
    if (busy) return;
    const address = normalEmail(email);
    setError(null);
    setEmailError(null);
    setResent(false);
    setBusy("confirm");
    try {
      await confirmSignUp(address, code.trim());
      navigate(`/sign-in?email=${encodeURIComponent(address)}&confirmed=1`);
    } catch (failure) {
      setError(failure);
      setBusy(null);
    }
  }

  async function resend() {
    if (busy) return;
    const address = normalEmail(email);
    setError(null);
    setEmailError(null);
    setResent(false);
    if (!address) {
      setEmailError("Enter your e-mail address.");
      return;
    }
    setBusy("resend");
    try {
      await resendCode(address);
      setResent(true);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(null);
    }
  }

  // ConfirmSignUp refuses with NotAuthorizedException only an account that is confirmed already.
  const confirmedAlready = error instanceof CognitoError && error.code === "NotAuthorizedException";
  const address = normalEmail(email);
  return (
    <>
      <PageTitle>Confirm your e-mail address</PageTitle>
      {known && <p>We sent a code to {known}.</p>}
      {resent && <Alert kind="success">A new code is on its way.</Alert>}
      {error ? (
        confirmedAlready ? (
          <Alert kind="info">
            This account is confirmed already. <a href={`/sign-in?email=${encodeURIComponent(address)}`}>Sign in</a>
          </Alert>
        ) : (
          <Alert>{messageOf(error)}</Alert>
        )
      ) : null}
      <form onSubmit={confirm}>
        <EmailField value={email} onValue={setEmail} error={emailError} />
        <CodeField label="Confirmation code" value={code} onValue={setCode} />
        <button type="submit" disabled={busy !== null}>
          {busy === "confirm" ? "Confirming…" : "Confirm"}
        </button>
      </form>
      <div class="auth-links">
        <button type="button" class="secondary" disabled={busy !== null} onClick={resend}>
          {busy === "resend" ? "Sending a new code…" : "Send a new code"}
        </button>
        <a href="/sign-in">Back to sign in</a>
      </div>
    </>
  );
}
