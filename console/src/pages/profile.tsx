// The signed-in person: who they are, in which organization and role, and their second factor
// (a TOTP authenticator app), which they can turn on here.
import qrcode from "qrcode-generator";
import type { JSX } from "preact";
import { useMemo, useState } from "preact/hooks";
import { associateTotp, enableTotp, mfaEnabled, refresh, session } from "../auth";
import { loadOrganization, organization } from "../org";
import { useStore } from "../store";
import { CodeField } from "../ui/auth-fields";
import { Alert, LoadState, PageTitle, messageOf, useLoad } from "../ui/kit";

const ISSUER = "Tenantry";

/** The key URI authenticator apps read from a QR code. */
function otpauthUri(email: string, secret: string): string {
  const label = `${encodeURIComponent(ISSUER)}:${encodeURIComponent(email)}`;
  return `otpauth://totp/${label}?secret=${encodeURIComponent(secret)}&issuer=${encodeURIComponent(ISSUER)}`;
}

/** A GIF data URL of the QR code (the Content-Security-Policy allows `data:` images). */
function qrDataUrl(text: string): string {
  const code = qrcode(0, "M");
  code.addData(text);
  code.make();
  // 6-pixel modules and the standard quiet zone of 4 modules.
  return code.createDataURL(6, 24);
}

export default function Page() {
  const current = useStore(session);
  const org = useStore(organization);
  const claims = current?.claims;
  const mfaBlocked = org.blocked?.code === "mfa-required";
  const status = useLoad(mfaEnabled, []);
  const [turnedOn, setTurnedOn] = useState(false);
  const on = turnedOn || status.data === true;

  let orgName: string;
  if (!claims?.tenant_id) orgName = "No organization";
  else if (org.tenant) orgName = org.tenant.settings.display_name ?? org.tenant.name;
  else if (org.loading) orgName = "Loading…";
  else orgName = "Not available now";

  return (
    <>
      <PageTitle>Your profile</PageTitle>
      {mfaBlocked && (
        <Alert kind="warning">
          Your organization requires two-step verification.{" "}
          {on
            ? "It is on for your account: sign out and sign in again with a code to use the organization."
            : "Set it up below to use the organization."}
        </Alert>
      )}
      <div class="card">
        <dl class="facts">
          <dt>E-mail address</dt>
          <dd>{claims?.email ?? "Unknown"}</dd>
          <dt>Organization</dt>
          <dd>{orgName}</dd>
          {claims?.tenant_id && (
            <>
              <dt>Role</dt>
              <dd>{claims.tenant_role === "admin" ? "Admin" : "Member"}</dd>
            </>
          )}
        </dl>
      </div>
      <TwoStep
        email={claims?.email ?? ""}
        mfaBlocked={mfaBlocked}
        status={status}
        turnedOn={turnedOn}
        onTurnedOn={() => setTurnedOn(true)}
      />
    </>
  );
}

function TwoStep({
  email,
  mfaBlocked,
  status,
  turnedOn,
  onTurnedOn,
}: {
  email: string;
  mfaBlocked: boolean;
  status: ReturnType<typeof useLoad<boolean>>;
  turnedOn: boolean;
  onTurnedOn: () => void;
}) {
  const [secret, setSecret] = useState<string | null>(null);
  const [code, setCode] = useState("");
  const [busy, setBusy] = useState<"start" | "verify" | null>(null);
  const [error, setError] = useState<unknown>(null);
  const qr = useMemo(() => (secret ? qrDataUrl(otpauthUri(email, secret)) : null), [secret, email]);

  async function start() {
    if (busy) return;
    setError(null);
    setBusy("start");
    try {
      setSecret(await associateTotp());
      setCode("");
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(null);
    }
  }

  async function verify(event: JSX.TargetedEvent<HTMLFormElement, Event>) {
    event.preventDefault();
    if (busy) return;
    setError(null);
    setBusy("verify");
    try {
      await enableTotp(code.replace(/\s/g, ""));
      onTurnedOn();
      setSecret(null);
      if (mfaBlocked) {
        // New tokens carry the second factor, so the organization opens without signing in again.
        await refresh().catch(() => null);
        await loadOrganization();
      }
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(null);
    }
  }

  const on = turnedOn || status.data === true;
  return (
    <section aria-labelledby="two-step-title">
      <h2 id="two-step-title">Two-step verification</h2>
      {turnedOn && <Alert kind="success">Two-step verification is on. You will be asked for a code when you sign in.</Alert>}
      {error ? <Alert>{messageOf(error)}</Alert> : null}
      {!turnedOn && (status.loading || status.error) ? (
        <LoadState state={status} />
      ) : on ? (
        <p>Two-step verification is on.</p>
      ) : (
        <>
          <p>Two-step verification is off.</p>
          {!secret ? (
            <button type="button" disabled={busy !== null} onClick={start}>
              {busy === "start" ? "Setting up…" : "Set up two-step verification"}
            </button>
          ) : (
            <div class="card totp">
              <div>
                <p>Scan this QR code with your authenticator app.</p>
                {qr && <img class="qr" src={qr} alt="QR code for your authenticator app" />}
                <p>
                  Or enter this key:{" "}
                  <code class="secret" data-testid="totp-secret">
                    {secret}
                  </code>
                </p>
              </div>
              <form onSubmit={verify}>
                <CodeField label="Code from the app" value={code} onValue={setCode} />
                <div class="actions">
                  <button type="submit" disabled={busy !== null}>
                    {busy === "verify" ? "Turning on…" : "Turn on"}
                  </button>
                  <button type="button" class="secondary" disabled={busy !== null} onClick={() => setSecret(null)}>
                    Cancel
                  </button>
                </div>
              </form>
            </div>
          )}
        </>
      )}
    </section>
  );
}
