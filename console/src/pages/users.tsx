// Users: the organization's members and pending invitations. Admins invite people, change
// roles and remove members; the organization always keeps one admin, and the API says so
// (409 last-admin) when a change would leave it without one. Members only see the list.
import { useState } from "preact/hooks";
import { ApiError, api, type Schemas } from "../api";
import { refresh, session } from "../auth";
import { formatDate, formatNumber } from "../format";
import { loadOrganization, organization } from "../org";
import { useStore } from "../store";
import { ConfirmButton } from "../ui/confirm";
import { Alert, Field, LoadState, PageTitle, Select, fieldOf, messageOf } from "../ui/kit";
import { LoadMore, usePagedList } from "../ui/list";
import { ProblemAlert, isStale } from "../ui/stale";
import { ACTIONS, Cell, Table } from "../ui/table";

type Member = Schemas["Member"];
type Role = Schemas["Role"];

const ROLES: { value: Role; label: string }[] = [
  { value: "member", label: "Member" },
  { value: "admin", label: "Admin" },
];

/** A new member where the list's user-id order puts it (a later page brings it otherwise). */
function insertMember(items: Member[], member: Member, next: string | null): Member[] {
  const last = items[items.length - 1];
  if (next !== null && last && member.user_id > last.user_id) return items;
  return [...items, member].sort((a, b) => (a.user_id < b.user_id ? -1 : a.user_id > b.user_id ? 1 : 0));
}

export default function UsersPage() {
  const me = useStore(session);
  const org = useStore(organization);
  const admin = me?.claims.tenant_role === "admin";
  const list = usePagedList(async (cursor) => (await api.get("/users", { query: { limit: 20, cursor } })).data, {
    key: (member) => member.user_id,
    insert: insertMember,
  });
  const [problem, setProblem] = useState<unknown>(null);

  const tenant = org.tenant;
  const activeAdmins = (list.items ?? []).filter((member) => member.role === "admin" && member.status === "active").length;

  /** After a change to the caller's own membership: new tokens, which carry what they hold now. */
  const changedMyself = async () => {
    await refresh().catch(() => null);
  };

  return (
    <>
      <PageTitle>Users</PageTitle>
      {activeAdmins === 1 && (
        <Alert kind="info">
          An organization always keeps at least one admin: name another admin before this one becomes a member or leaves.
        </Alert>
      )}
      {!admin && <Alert kind="info">Only admins can invite people and change roles.</Alert>}
      {tenant && (
        <p class="muted">
          {formatNumber(tenant.usage.users)} of {formatNumber(tenant.limits.max_users)} seats used
        </p>
      )}
      {admin && (
        <InviteForm
          onInvited={(member) => {
            list.put(member);
            void loadOrganization();
          }}
        />
      )}
      <h2>Members</h2>
      {problem !== null && (
        <ProblemAlert
          error={problem}
          stale={isStale(problem)}
          onReload={() => {
            setProblem(null);
            list.state.reload();
          }}
        />
      )}
      {list.items === null ? (
        <LoadState state={list.state} />
      ) : list.items.length === 0 ? (
        <p class="muted">No members yet.</p>
      ) : (
        <>
          <Table columns={["E-mail", "Role", "Status", admin && ACTIONS]}>
            {list.items.map((member) => (
              <MemberRow
                key={member.user_id}
                member={member}
                admin={admin}
                mine={member.user_id === me?.claims.sub}
                onProblem={setProblem}
                onChanged={async (changed) => {
                  list.put(changed);
                  if (changed.user_id === me?.claims.sub) await changedMyself();
                }}
                onRemoved={async () => {
                  list.remove(member.user_id);
                  void loadOrganization();
                  if (member.user_id === me?.claims.sub) await changedMyself();
                }}
              />
            ))}
          </Table>
          <LoadMore list={list} />
        </>
      )}
    </>
  );
}

function MemberRow({
  member,
  admin,
  mine,
  onProblem,
  onChanged,
  onRemoved,
}: {
  member: Member;
  admin: boolean;
  mine: boolean;
  onProblem: (error: unknown) => void;
  onChanged: (member: Member) => void;
  onRemoved: () => void;
}) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  // The role chosen while its change is on its way; the stored one shows again if it fails.
  const [pendingRole, setPendingRole] = useState<Role | null>(null);
  const invited = member.status === "invited";
  const roleLabel = ROLES.find((role) => role.value === member.role)?.label ?? member.role;

  const changeRole = async (role: Role) => {
    if (role === member.role) return;
    setBusy(true);
    setPendingRole(role);
    onProblem(null);
    try {
      const { data } = await api.patch("/users/{userId}", { path: { userId: member.user_id }, body: { role } });
      onChanged(data);
    } catch (err) {
      onProblem(err);
    }
    setPendingRole(null);
    setBusy(false);
  };

  const remove = async () => {
    setBusy(true);
    onProblem(null);
    try {
      await api.delete("/users/{userId}", { path: { userId: member.user_id } });
      onRemoved();
      return;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        onRemoved();
        return;
      }
      onProblem(err);
    }
    setConfirming(false);
    setBusy(false);
  };

  return (
    <tr>
      <Cell label="E-mail" class="wrap-anywhere">
        {member.email}
        {mine && (
          <>
            {" "}
            <span class="badge">you</span>
          </>
        )}
      </Cell>
      <Cell label="Role">
        {admin ? (
          <select
            class="row-select"
            aria-label={`Role of ${member.email}`}
            value={pendingRole ?? member.role}
            disabled={busy || invited || member.status === "disabled"}
            title={invited ? "A pending invitation's role cannot change: withdraw it and invite again." : undefined}
            onChange={(event) => changeRole((event.target as HTMLSelectElement).value as Role)}
          >
            {ROLES.map((role) => (
              <option key={role.value} value={role.value}>
                {role.label}
              </option>
            ))}
          </select>
        ) : (
          roleLabel
        )}
      </Cell>
      <Cell label="Status">
        {invited ? (
          <>
            <span class="badge warn">invited</span>
            {member.expires_at && <span class="muted small"> expires {formatDate(member.expires_at)}</span>}
          </>
        ) : (
          <span class={member.status === "active" ? "badge ok" : "badge"}>{member.status}</span>
        )}
      </Cell>
      {admin && (
        <Cell>
          <div class="row-actions">
            <ConfirmButton
              open={confirming}
              onOpen={() => setConfirming(true)}
              onCancel={() => setConfirming(false)}
              onConfirm={remove}
              label={invited ? "Withdraw" : "Remove"}
              ariaLabel={invited ? `Withdraw invitation for ${member.email}` : `Remove ${member.email}`}
              disabled={busy}
              confirmLabel={invited ? "Confirm withdraw" : "Confirm remove"}
              confirmAriaLabel={invited ? `Confirm withdraw invitation for ${member.email}` : `Confirm remove ${member.email}`}
              busy={busy}
              cancelDisabled={busy}
            />
          </div>
        </Cell>
      )}
    </tr>
  );
}

function InviteForm({ onInvited }: { onInvited: (member: Member) => void }) {
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("member");
  const [errors, setErrors] = useState<{ email?: string; role?: string }>({});
  const [problem, setProblem] = useState<unknown>(null);
  const [sent, setSent] = useState<Member | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    const address = email.trim().toLowerCase();
    setSent(null);
    setProblem(null);
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(address)) {
      setErrors({ email: "Enter an e-mail address, such as name@example.com." });
      return;
    }
    setErrors({});
    setBusy(true);
    try {
      const { data } = await api.post("/users", { body: { email: address, role } });
      setSent(data);
      setEmail("");
      setRole("member");
      onInvited(data);
    } catch (err) {
      const field = fieldOf(err);
      if (field === "email" || field === "role") setErrors({ [field]: messageOf(err) });
      else setProblem(err);
    }
    setBusy(false);
  };

  return (
    <form class="card page-form" onSubmit={submit} noValidate aria-busy={busy}>
      <h2>Invite someone</h2>
      {sent && (
        <Alert kind="success">
          Invitation sent to {sent.email}.{" "}
          {sent.status === "invited"
            ? `They already have an account: the invitation waits for them to accept it${sent.expires_at ? ` until ${formatDate(sent.expires_at)}` : ""}.`
            : "They are a member now and get an e-mail with a temporary password to sign in."}
        </Alert>
      )}
      {problem !== null && <Alert>{messageOf(problem)}</Alert>}
      <div class="form-grid">
        <Field
          label="E-mail address"
          type="email"
          autoComplete="off"
          required
          value={email}
          onValue={(value) => {
            setEmail(value);
            if (errors.email) setErrors({});
          }}
          error={errors.email}
          disabled={busy}
        />
        <Select label="Role" value={role} onValue={(value) => setRole(value as Role)} options={ROLES} error={errors.role} disabled={busy} />
      </div>
      <div class="actions">
        <button type="submit" disabled={busy}>
          Invite
        </button>
      </div>
    </form>
  );
}
