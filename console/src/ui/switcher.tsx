// The organization switcher: the person's organizations; choosing one records it
// (PUT /me/active-organization) and refreshes the tokens, which then carry it.
import { useEffect, useState } from "preact/hooks";
import { api, type Schemas } from "../api";
import { refresh, session } from "../auth";
import { navigate } from "../router";
import { useStore } from "../store";
import { messageOf } from "./kit";

export const organizationsChanged = { listeners: new Set<() => void>() };

/** Tells the switcher that the person's organizations changed (created, left, accepted). */
export function announceOrganizationsChanged(): void {
  for (const listener of organizationsChanged.listeners) listener();
}

export async function switchTo(tenantId: string): Promise<void> {
  await api.put("/me/active-organization", { body: { tenant_id: tenantId } });
  await refresh();
  announceOrganizationsChanged();
}

export function OrgSwitcher() {
  const current = useStore(session);
  const [list, setList] = useState<Schemas["MeOrganization"][]>([]);
  const [error, setError] = useState<string | null>(null);
  const [round, setRound] = useState(0);
  useEffect(() => {
    const listener = () => setRound((n) => n + 1);
    organizationsChanged.listeners.add(listener);
    return () => organizationsChanged.listeners.delete(listener);
  }, []);
  useEffect(() => {
    api.get("/me/organizations").then(
      ({ data }) => setList(data.items),
      () => setList([]),
    );
  }, [round, current?.claims.tenant_id]);
  if (list.length < 2) return null;
  const active = current?.claims.tenant_id ?? "";
  return (
    <div class="switcher">
      <label for="org-switcher" class="visually-hidden">
        Organization
      </label>
      <select
        id="org-switcher"
        value={active}
        onChange={async (event) => {
          const id = (event.target as HTMLSelectElement).value;
          setError(null);
          try {
            await switchTo(id);
            navigate("/");
          } catch (err) {
            setError(messageOf(err));
          }
        }}
      >
        {!active && <option value="">Choose an organization</option>}
        {list.map((org) => (
          <option key={org.id} value={org.id} disabled={org.status !== "active" && org.id !== active}>
            {org.name ?? org.id}
            {org.status !== "active" ? ` (${org.status})` : ""}
          </option>
        ))}
      </select>
      {error && (
        <span class="error" role="alert">
          {error}
        </span>
      )}
    </div>
  );
}
