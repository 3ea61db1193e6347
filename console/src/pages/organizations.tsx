// Organizations: those the person belongs to (switch to one, leave one), the invitations waiting
// for an answer, and creating another organization. Everything here is the person's own, so it
// works whatever organization the tokens carry, or none.
import { useEffect, useState } from "preact/hooks";
import { api, type Schemas } from "../api";
import { refresh, session } from "../auth";
import { formatDate } from "../format";
import { navigate } from "../router";
import { useStore } from "../store";
import { ConfirmButton } from "../ui/confirm";
import { Alert, Field, LoadState, PageTitle, fieldOf, messageOf, useLoad } from "../ui/kit";
import { announceOrganizationsChanged, organizationsChanged, switchTo } from "../ui/switcher";
import { Cell, RowHeader, Table } from "../ui/table";

type Membership = Schemas["MeOrganization"];
type Invitation = Schemas["MeInvitation"];

const PLAN_NAMES: Record<string, string> = { basic: "Basic", standard: "Standard", premium: "Premium" };
const ROLE_NAMES: Record<string, string> = { admin: "Admin", member: "Member" };
/** Only these are open for work; the others can be left, not used. */
const USABLE = new Set(["active", "provisioning"]);

function statusBadge(status: string): string {
  if (status === "active") return "badge ok";
  if (status === "provisioning") return "badge";
  return "badge warn";
}

export default function Organizations() {
  const claims = useStore(session)?.claims;
  const [round, setRound] = useState(0);
  // Reloaded whenever the person's organizations change, here or in the header's switcher.
  useEffect(() => {
    const listener = () => setRound((n) => n + 1);
    organizationsChanged.listeners.add(listener);
    return () => {
      organizationsChanged.listeners.delete(listener);
    };
  }, []);
  const orgs = useLoad(() => api.get("/me/organizations").then(({ data }) => data.items), [round]);
  const invitations = useLoad(() => api.get("/me/invitations").then(({ data }) => data.items), [round]);
  const [switchError, setSwitchError] = useState<string | null>(null);

  const switchToOrg = async (id: string) => {
    setSwitchError(null);
    try {
      await switchTo(id);
      navigate("/");
    } catch (err) {
      setSwitchError(messageOf(err));
    }
  };

  return (
    <>
      <PageTitle>Organizations</PageTitle>
      {switchError && <Alert>{switchError}</Alert>}
      {orgs.data ? (
        <Memberships items={orgs.data} current={claims?.tenant_id ?? null} onSwitch={switchToOrg} />
      ) : (
        <LoadState state={orgs} />
      )}
      <h2>Invitations</h2>
      {invitations.data ? <Invitations items={invitations.data} onSwitch={switchToOrg} /> : <LoadState state={invitations} />}
      <h2>Create another organization</h2>
      <CreateOrganization onSwitch={switchToOrg} />
    </>
  );
}

function Memberships({
  items,
  current,
  onSwitch,
}: {
  items: Membership[];
  current: string | null;
  onSwitch: (id: string) => Promise<void>;
}) {
  const [confirming, setConfirming] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [left, setLeft] = useState<string | null>(null);

  const leave = async (org: Membership) => {
    setBusy(org.id);
    setError(null);
    setLeft(null);
    try {
      await api.delete("/me/organizations/{tenantId}", { path: { tenantId: org.id } });
      setConfirming(null);
      setLeft(org.name ?? org.id);
      // The tokens may carry the organization left: the next ones carry another, or none.
      await refresh();
      announceOrganizationsChanged();
    } catch (err) {
      // `last-admin` among others: the API says what to do first.
      setError(messageOf(err));
    } finally {
      setBusy(null);
    }
  };

  if (items.length === 0) {
    return (
      <>
        {left && <Alert kind="success">You left {left}.</Alert>}
        <p>You are not in any organization yet. Accept an invitation or create one below.</p>
      </>
    );
  }

  const suspended = items.filter((org) => org.status === "suspended");
  return (
    <>
      {error && <Alert>{error}</Alert>}
      {left && <Alert kind="success">You left {left}.</Alert>}
      <Table class="named-rows" columns={["Name", "Role", "Plan", "Status", "Actions"]}>
        {items.map((org) => {
          const name = org.name ?? org.id;
          const isCurrent = org.id === current;
          return (
            <tr key={org.id}>
              <RowHeader label="Name">{name}</RowHeader>
              <Cell label="Role">{ROLE_NAMES[org.role] ?? org.role}</Cell>
              <Cell label="Plan">{PLAN_NAMES[org.tier] ?? org.tier}</Cell>
              <Cell label="Status">
                <span class={statusBadge(org.status)}>{org.status}</span>
              </Cell>
              <Cell>
                <div class="org-actions">
                  {isCurrent ? (
                    <span class="badge ok">Current</span>
                  ) : (
                    <button
                      type="button"
                      class="secondary"
                      aria-label={`Switch to ${name}`}
                      disabled={!USABLE.has(org.status)}
                      onClick={() => onSwitch(org.id)}
                    >
                      Switch
                    </button>
                  )}
                  <ConfirmButton
                    open={confirming === org.id}
                    onOpen={() => {
                      setError(null);
                      setConfirming(org.id);
                    }}
                    onCancel={() => setConfirming(null)}
                    onConfirm={() => leave(org)}
                    label="Leave"
                    ariaLabel={`Leave ${name}`}
                    confirmLabel="Confirm leave"
                    confirmAriaLabel={`Confirm leave ${name}`}
                    busy={busy === org.id}
                    spinner
                  />
                </div>
              </Cell>
            </tr>
          );
        })}
      </Table>
      {suspended.length > 0 && (
        <div class="after-table">
          {suspended.map((org) => (
            <Alert kind="warning" key={org.id}>
              {org.name ?? org.id} is suspended: its data cannot be used until it is reactivated.
            </Alert>
          ))}
        </div>
      )}
    </>
  );
}

function Invitations({ items, onSwitch }: { items: Invitation[]; onSwitch: (id: string) => Promise<void> }) {
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [joined, setJoined] = useState<{ id: string; name: string } | null>(null);
  const [declined, setDeclined] = useState<string | null>(null);

  const answer = async (invitation: Invitation, accept: boolean) => {
    const name = invitation.name ?? invitation.tenant_id;
    setBusy(invitation.tenant_id);
    setError(null);
    setJoined(null);
    setDeclined(null);
    try {
      await api.post("/me/invitations/{tenantId}", { path: { tenantId: invitation.tenant_id }, body: { accept } });
      if (accept) setJoined({ id: invitation.tenant_id, name });
      else setDeclined(name);
      announceOrganizationsChanged();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(null);
    }
  };

  return (
    <>
      {error && <Alert>{error}</Alert>}
      {joined && (
        <Alert kind="success">
          You joined {joined.name}.{" "}
          <button type="button" class="secondary" onClick={() => onSwitch(joined.id)}>
            Switch to {joined.name}
          </button>
        </Alert>
      )}
      {declined && <Alert kind="info">You declined the invitation to {declined}.</Alert>}
      {items.length === 0 ? (
        <p class="muted">No invitations waiting.</p>
      ) : (
        <Table class="named-rows" columns={["Organization", "Role", "Expires", "Answer"]}>
          {items.map((invitation) => {
            const name = invitation.name ?? invitation.tenant_id;
            return (
              <tr key={invitation.tenant_id}>
                <RowHeader label="Organization">{name}</RowHeader>
                <Cell label="Role">{ROLE_NAMES[invitation.role] ?? invitation.role}</Cell>
                <Cell label="Expires">
                  {formatDate(invitation.expires_at)}
                  {invitation.expired && (
                    <>
                      {" "}
                      <span class="badge warn">Expired</span>
                    </>
                  )}
                </Cell>
                <Cell>
                  <div class="org-actions">
                    <button
                      type="button"
                      aria-label={`Accept invitation to ${name}`}
                      disabled={busy !== null || invitation.expired}
                      onClick={() => answer(invitation, true)}
                    >
                      Accept
                    </button>
                    <button
                      type="button"
                      class="secondary"
                      aria-label={`Decline invitation to ${name}`}
                      disabled={busy !== null}
                      onClick={() => answer(invitation, false)}
                    >
                      Decline
                    </button>
                  </div>
                </Cell>
              </tr>
            );
          })}
        </Table>
      )}
    </>
  );
}

function CreateOrganization({ onSwitch }: { onSwitch: (id: string) => Promise<void> }) {
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ message: string; field: boolean } | null>(null);
  const [created, setCreated] = useState<{ id: string; name: string } | null>(null);

  const create = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setCreated(null);
    try {
      const { data } = await api.post("/me/organizations", { body: { name: name.trim() } });
      setCreated({ id: data.id, name: data.name ?? name.trim() });
      setName("");
      announceOrganizationsChanged();
    } catch (err) {
      setError({ message: messageOf(err), field: fieldOf(err) === "name" });
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      {error && !error.field && <Alert>{error.message}</Alert>}
      {created && (
        <Alert kind="success">
          {created.name} is created. You are its admin.{" "}
          <button type="button" class="secondary" aria-label={`Switch to ${created.name}`} onClick={() => onSwitch(created.id)}>
            Switch to it
          </button>
        </Alert>
      )}
      <form class="inline" onSubmit={create} noValidate>
        <Field
          label="Organization name"
          value={name}
          onValue={(value) => {
            setName(value);
            if (error?.field) setError(null);
          }}
          error={error?.field ? error.message : null}
          autoComplete="organization"
          maxLength={100}
          required
        />
        <button type="submit" disabled={busy}>
          {busy && <span class="spinner" aria-hidden="true" />}
          Create organization
        </button>
      </form>
    </>
  );
}
