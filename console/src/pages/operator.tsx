// Operator: every organization of the platform, for its operators (the Cognito group
// platform-admin; the API refuses anyone else). Find one, see where it is in its life and its
// storage migration if one runs, change its tier, suspend or reactivate it, and dispatch again a
// job that failed or was lost.
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { ApiError, api, type Schemas } from "../api";
import { formatDate, formatNumber } from "../format";
import { ConfirmButton } from "../ui/confirm";
import { Alert, Field, LoadState, PageTitle, Select, messageOf, useLoad } from "../ui/kit";
import { usePagedList, type ListPage } from "../ui/list";
import { StaleAlert, isStale } from "../ui/stale";
import { ACTIONS, Cell, Table } from "../ui/table";

type Tenant = Schemas["AdminTenant"];
type Details = Schemas["AdminTenantDetails"];
type Tier = Schemas["Tier"];
type Phase = Schemas["AdminTenantMigration"]["phase"];
type JobKind = Schemas["AdminJobRequest"]["kind"];

/** Pages read at once (and per "Load more"): the API has no search, so the filter runs here. */
const PAGES_AT_ONCE = 10;
const PAGE_SIZE = 100;

const TIERS: { value: Tier; label: string }[] = [
  { value: "basic", label: "basic" },
  { value: "standard", label: "standard" },
  { value: "premium", label: "premium" },
];

const JOBS: { value: JobKind; label: string }[] = [
  { value: "provision", label: "provision" },
  { value: "migrate", label: "migrate" },
  { value: "offboard", label: "offboard" },
];

/** A migration's phases in order, with what each one does (shared/src/tenancy/migration.rs). */
const PHASES: { phase: Phase; text: string }[] = [
  { phase: "draining", text: "Draining: writes are refused (503) until no request still uses the old storage." },
  { phase: "copying", text: "Copying: every item is copied to the new storage and compared." },
  { phase: "switched", text: "Switched: the organization uses the new storage; the old copy is being removed." },
];

/** Up to `PAGES_AT_ONCE` pages from `cursor` on (the first page without one), as one. */
async function loadPages(cursor?: string): Promise<ListPage<Tenant>> {
  const items: Tenant[] = [];
  let next = cursor ?? null;
  for (let page = 0; page < PAGES_AT_ONCE; page++) {
    const { data } = await api.get("/admin/tenants", { query: { limit: PAGE_SIZE, cursor: next ?? undefined } });
    items.push(...data.items);
    next = data.next_cursor;
    if (!next) break;
  }
  return { items, next_cursor: next };
}

function statusClass(status: Tenant["status"]): string {
  if (status === "active") return "badge ok";
  if (status === "suspended" || status === "deleting") return "badge warn";
  return "badge";
}

/** The job an organization's state calls for, if any (see POST /admin/tenants/{id}/jobs). */
function jobFor(tenant: Details): JobKind | null {
  if (tenant.migration) return "migrate";
  if (tenant.status === "provisioning") return "provision";
  if (tenant.status === "deleting") return "offboard";
  return null;
}

/** A 403 is the API's refusal (not an operator): its words, without a pointless "Try again". */
function Refusal({ state }: { state: Parameters<typeof LoadState>[0]["state"] }) {
  if (state.error instanceof ApiError && state.error.status === 403) return <Alert>{state.error.message}</Alert>;
  return <LoadState state={state} />;
}

export default function OperatorPage() {
  // A row read twice (an organization created meanwhile) is kept once.
  const list = usePagedList(loadPages, { key: (t) => t.id });
  const [query, setQuery] = useState("");
  const [managed, setManaged] = useState<string | null>(null);
  const items = list.items;

  /** The panel read the organization again: its row shows the same. */
  const updateRow = (tenant: Details) => {
    list.change((current, next) => ({ items: current.map((t) => (t.id === tenant.id ? { ...t, ...rowOf(tenant) } : t)), next }));
  };

  const needle = query.trim().toLowerCase();
  const shown = (items ?? []).filter((t) => !needle || t.name.toLowerCase().includes(needle) || t.id.toLowerCase().includes(needle));
  const row = items?.find((t) => t.id === managed) ?? null;

  return (
    <>
      <PageTitle>Operator</PageTitle>
      {!items ? (
        <Refusal state={list.state} />
      ) : (
        <div class="operator">
          <section class="operator-list" aria-label="Organizations">
            <Field
              label="Search tenants"
              type="search"
              autoComplete="off"
              value={query}
              onValue={setQuery}
              hint={`Matches the name or id of the ${formatNumber(items.length)} organizations loaded.`}
            />
            <p class="muted" aria-live="polite">
              {needle ? `${formatNumber(shown.length)} of ${formatNumber(items.length)} organizations` : `${formatNumber(items.length)} organizations`}
            </p>
            <Table columns={["Name", "Tier", "Status", "Created", ACTIONS]}>
              {shown.map((t) => (
                <tr key={t.id} aria-current={t.id === managed ? "true" : undefined}>
                  <Cell label="Name">
                    {t.name}
                    <div class="muted cell-note">{t.id}</div>
                  </Cell>
                  <Cell label="Tier">{t.tier}</Cell>
                  <Cell label="Status">
                    <span class={statusClass(t.status)}>{t.status}</span>
                  </Cell>
                  <Cell label="Created">{formatDate(t.created_at)}</Cell>
                  <Cell>
                    <button type="button" class="secondary" aria-label={`Manage ${t.name}`} onClick={() => setManaged(t.id)}>
                      Manage
                    </button>
                  </Cell>
                </tr>
              ))}
              {shown.length === 0 && (
                <tr>
                  <td colSpan={5} class="muted">
                    {needle ? "No organization loaded matches this search." : "There is no organization yet."}
                  </td>
                </tr>
              )}
            </Table>
            {list.more.error ? <Alert>{messageOf(list.more.error)}</Alert> : null}
            {list.next && (
              <div class="actions">
                <button type="button" class="secondary" onClick={list.loadMore} disabled={list.more.busy}>
                  {list.more.busy && <span class="spinner" aria-hidden="true" />}
                  Load more
                </button>
                <span class="muted">More organizations exist than are loaded; the search sees only those loaded.</span>
              </div>
            )}
          </section>
          {row && <TenantPanel key={row.id} row={row} onLoaded={updateRow} onClose={() => setManaged(null)} />}
        </div>
      )}
    </>
  );
}

/** The fields of a row, from the organization's details. */
function rowOf(details: Details): Tenant {
  const { migration: _migration, ...tenant } = details;
  return tenant;
}

type Message = { kind: "success" | "info" | "error"; text: string } | null;

function TenantPanel({ row, onLoaded, onClose }: { row: Tenant; onLoaded: (t: Details) => void; onClose: () => void }) {
  const details = useLoad(async () => (await api.get("/admin/tenants/{tenantId}", { path: { tenantId: row.id } })).data, [row.id]);
  const tenant = details.data;
  const heading = useRef<HTMLHeadingElement>(null);
  const [tier, setTier] = useState<Tier>(row.tier);
  const [job, setJob] = useState<JobKind>("provision");
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<Message>(null);
  const [conflict, setConflict] = useState(false);

  // Keyboard and screen-reader users land on the organization they chose.
  useLayoutEffect(() => {
    heading.current?.focus();
  }, []);

  // Each read of the organization: the form starts from it, and its row shows it too.
  useEffect(() => {
    if (!tenant) return;
    onLoaded(tenant);
    setTier(tenant.migration?.to_tier ?? tenant.tier);
    setJob(jobFor(tenant) ?? "provision");
  }, [tenant]);

  const fail = (error: unknown) => {
    // The version the change was made from is not the current one any more.
    if (isStale(error)) {
      setConflict(true);
      setMessage(null);
    } else {
      setMessage({ kind: "error", text: messageOf(error) });
    }
  };

  const run = async (change: () => Promise<Message>) => {
    setBusy(true);
    setMessage(null);
    setConflict(false);
    try {
      setMessage(await change());
    } catch (error) {
      fail(error);
    } finally {
      setBusy(false);
      setConfirming(false);
      details.reload();
    }
  };

  const changeTier = () =>
    run(async () => {
      if (!tenant) return null;
      const { data } = await api.patch("/admin/tenants/{tenantId}", {
        path: { tenantId: tenant.id },
        body: { tier, version: tenant.version },
      });
      // A move to or from premium is a migration: answered with the organization as it still is.
      return data.tier === tier
        ? { kind: "success", text: `The organization is now on the ${tier} tier.` }
        : { kind: "info", text: `A storage migration to the ${tier} tier was dispatched; the organization's data is unavailable until it ends. Migration shows where it is: use Refresh to follow it.` };
    });

  const changeStatus = (status: "active" | "suspended") =>
    run(async () => {
      if (!tenant) return null;
      await api.patch("/admin/tenants/{tenantId}", {
        path: { tenantId: tenant.id },
        body: { status, version: tenant.version },
      });
      return { kind: "success", text: status === "suspended" ? "The organization is suspended." : "The organization is active again." };
    });

  const runJob = () =>
    run(async () => {
      if (!tenant) return null;
      const { data } = await api.post("/admin/tenants/{tenantId}/jobs", { path: { tenantId: tenant.id }, body: { kind: job } });
      return { kind: "success", text: `The ${data.kind} job was dispatched.` };
    });

  const wanted = tenant ? jobFor(tenant) : null;
  const phaseIndex = tenant?.migration ? PHASES.findIndex((p) => p.phase === tenant.migration?.phase) : -1;
  const suspend = tenant?.status === "active";
  // The button pressed gives way to its confirmation, which takes the focus.
  const statusButton = (
    <ConfirmButton
      open={confirming}
      onOpen={() => setConfirming(true)}
      onCancel={() => setConfirming(false)}
      onConfirm={() => void changeStatus(suspend ? "suspended" : "active")}
      label={suspend ? "Suspend" : "Reactivate"}
      disabled={busy}
      confirmLabel={suspend ? "Confirm suspend" : "Confirm reactivate"}
      confirmClass={suspend ? "danger" : ""}
      busy={busy}
      moveFocus
    />
  );

  return (
    <section class="card operator-panel" aria-labelledby="managed-tenant">
      <div class="operator-head">
        <h2 id="managed-tenant" tabIndex={-1} ref={heading}>
          {tenant?.name ?? row.name}
        </h2>
        <div class="actions">
          <button type="button" class="secondary" onClick={details.reload} disabled={details.loading}>
            {details.loading && tenant && <span class="spinner" aria-hidden="true" />}
            Refresh
          </button>
          <button type="button" class="secondary" onClick={onClose}>
            Close
          </button>
        </div>
      </div>
      {!tenant ? (
        <Refusal state={details} />
      ) : (
        <>
          {conflict && (
            <StaleAlert
              onReload={() => {
                setConflict(false);
                details.reload();
              }}
            />
          )}
          {message && <Alert kind={message.kind}>{message.text}</Alert>}
          <dl class="facts">
            <dt>ID</dt>
            <dd>
              <code>{tenant.id}</code>
            </dd>
            <dt>Tier</dt>
            <dd>{tenant.tier}</dd>
            <dt>Status</dt>
            <dd>
              <span class={statusClass(tenant.status)}>{tenant.status}</span>
            </dd>
            <dt>Version</dt>
            <dd>{tenant.version}</dd>
            <dt>Created</dt>
            <dd>{formatDate(tenant.created_at)}</dd>
            <dt>Updated</dt>
            <dd>{formatDate(tenant.updated_at)}</dd>
            <dt>Users</dt>
            <dd>
              {formatNumber(tenant.user_count)} ({formatNumber(tenant.admin_count)} {tenant.admin_count === 1 ? "admin" : "admins"})
            </dd>
            <dt>Storage</dt>
            <dd>{tenant.data_table ? <code>{tenant.data_table}</code> : "pooled"}</dd>
            <dt>Migration</dt>
            <dd>
              {tenant.migration ? (
                <>
                  <p>
                    To the {tenant.migration.to_tier} tier: <strong>{tenant.migration.phase}</strong> (step {phaseIndex + 1} of{" "}
                    {PHASES.length})
                  </p>
                  <ol class="operator-phases">
                    {PHASES.map((p, i) => (
                      <li key={p.phase} class={i < phaseIndex ? "done" : i === phaseIndex ? "current" : ""} aria-current={i === phaseIndex ? "step" : undefined}>
                        {p.text}
                      </li>
                    ))}
                  </ol>
                </>
              ) : (
                "None"
              )}
            </dd>
            <dt>Jobs</dt>
            <dd>{wanted ? `Its state calls for the ${wanted} job (run it again if it seems stuck).` : "Its state calls for no job."}</dd>
          </dl>

          <h3>Change the tier</h3>
          <form
            class="inline"
            onSubmit={(event) => {
              event.preventDefault();
              void changeTier();
            }}
          >
            <Select label="Tier" value={tier} onValue={(v) => setTier(v as Tier)} options={TIERS} />
            <button type="submit" disabled={busy}>
              {busy && <span class="spinner" aria-hidden="true" />}
              Change tier
            </button>
          </form>
          <p class="muted cell-note">A move to or from premium migrates the organization's storage: its data is unavailable until it ends.</p>

          <h3>Suspend or reactivate</h3>
          {tenant.status === "active" || tenant.status === "suspended" ? (
            confirming ? (
              <div>
                <p>
                  {suspend
                    ? `Suspend ${tenant.name}? Its people can no longer sign in to it nor use its API.`
                    : `Reactivate ${tenant.name}? Its people can use it again.`}
                </p>
                <div class="actions">{statusButton}</div>
              </div>
            ) : (
              <div class="actions">{statusButton}</div>
            )
          ) : (
            <p class="muted">An organization that is {tenant.status} can be neither suspended nor reactivated.</p>
          )}

          <h3>Dispatch a job again</h3>
          <form
            class="inline"
            onSubmit={(event) => {
              event.preventDefault();
              void runJob();
            }}
          >
            <Select label="Job" value={job} onValue={(v) => setJob(v as JobKind)} options={JOBS} />
            <button type="submit" disabled={busy}>
              Run job
            </button>
          </form>
        </>
      )}
    </section>
  );
}
