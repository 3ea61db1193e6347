// The fields of the account's pages (sign-in, sign-up, password reset, profile): the e-mail
// address, a new password with the pool's rules, and a code sent by e-mail or shown by an app.
import { PASSWORD_RULES } from "../auth";
import { Field } from "./kit";

type FieldProps = Parameters<typeof Field>[0];

/** The pool's password rules under a password field, each ticked once the password meets it. */
function PasswordRules({ password }: { password: string }) {
  return (
    <ul class="rules">
      {PASSWORD_RULES.map((rule) => (
        <li key={rule.label} class={rule.test(password) ? "met" : undefined}>
          {rule.label}
        </li>
      ))}
    </ul>
  );
}

/** Whether a password meets every rule (Cognito checks again). */
function meetsRules(password: string): boolean {
  return PASSWORD_RULES.every((rule) => rule.test(password));
}

const RULES_NOT_MET = "The password does not meet every rule below.";

/** A new password's error before it is sent: the rules it does not meet, or null. */
export function passwordProblem(password: string): string | null {
  return meetsRules(password) ? null : RULES_NOT_MET;
}

/** The e-mail address that names the account. */
export function EmailField({
  value,
  onValue,
  error,
  autoComplete = "username",
}: {
  value: string;
  onValue: (value: string) => void;
  error?: string | null;
  autoComplete?: string;
}) {
  return <Field label="E-mail address" type="email" name="email" autoComplete={autoComplete} required value={value} onValue={onValue} error={error} />;
}

/** A password being chosen, with the rules under it. */
export function NewPasswordField({
  label = "New password",
  name = "new-password",
  value,
  onValue,
  error,
}: {
  label?: string;
  name?: string;
  value: string;
  onValue: (value: string) => void;
  error: string | null;
}) {
  return (
    <Field
      label={label}
      type="password"
      name={name}
      autoComplete="new-password"
      required
      value={value}
      onValue={onValue}
      error={error}
      hint={<PasswordRules password={value} />}
    />
  );
}

/** A one-time code: digits, which the browser may fill in from a message. */
export function CodeField(props: Omit<FieldProps, "name" | "inputMode" | "autoComplete" | "required">) {
  return <Field name="code" inputMode="numeric" autoComplete="one-time-code" required {...props} />;
}
