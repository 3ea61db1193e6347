// Integrations (admins): webhook endpoints that receive the organization's events, and API
// clients that reach its products and orders from other systems. Secrets (an endpoint's signing
// secret, a client's secret) are shown once, when the API gives them, and never again.
import type { ComponentChildren } from "preact";
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { api, type Schemas } from "../api";
import { session } from "../auth";
import { config } from "../config";
import { formatDate } from "../format";
import { useStore } from "../store";
import { Alert, Field, LoadState, PageTitle, fieldOf, messageOf, useLoad } from "../ui/kit";
import { Cell } from "../ui/table";

type EventType = Schemas["EventType"];
type Webhook = Schemas["Webhook"];
type Scope = Schemas["ApiClientScope"];

// Every event type and every scope of the API document, in the order shown: `satisfies` makes
// a value the document adds, drops or renames a compile error here.
const EVENT_TYPES = Object.keys({
  "product.created": 1,
  "product.updated": 1,
  "product.deleted": 1,
  "order.created": 1,
  "order.status_changed": 1,
  "user.invited": 1,
  "user.joined": 1,
  "user.role_changed": 1,
  "user.removed": 1,
  "tenant.updated": 1,
  "tenant.suspended": 1,
  "tenant.reactivated": 1,
  "tenant.tier_changed": 1,
  "billing.plan_changed": 1,
  "billing.payment_failed": 1,
  "webhook.test": 1,
} satisfies Record<EventType, 1>) as EventType[];

const SCOPES = Object.keys({
  "products.read": 1,
  "products.write": 1,
  "orders.read": 1,
  "orders.write": 1,
} satisfies Record<Scope, 1>) as Scope[];

/** A message about the last action on a list, in an Alert above it. */
type Notice = { kind: "success" | "info" | "error"; content: ComponentChildren } | null;

/** Only one deletion waits for its confirmation at a time, on the whole page. */
interface Confirming {
  key: string | null;
  set: (key: string | null) => void;
}

export default function IntegrationsPage() {
  const current = useStore(session);
  const [confirming, setConfirming] = useState<string | null>(null);
  const confirm = { key: confirming, set: setConfirming };
  if (current?.claims.tenant_role !== "admin") {
    return (
      <>
        <PageTitle>Integrations</PageTitle>
        <Alert kind="info">Only admins can manage integrations.</Alert>
      </>
    );
  }
  const docsUrl = config().docsUrl;
  return (
    <>
      <PageTitle>Integrations</PageTitle>
      {docsUrl && (
        <p>
          Build on the events and the API: see the{" "}
          <a href={docsUrl} target="_blank" rel="noopener noreferrer">
            API reference<span class="visually-hidden"> (opens in a new tab)</span>
          </a>
          .
        </p>
      )}
      <Webhooks confirm={confirm} />
      <ApiClients confirm={confirm} />
    </>
  );
}

/** A group of checkboxes with its legend, "Select all", and the error the API gave about it. */
function Checkboxes<T extends string>({
  legend,
  values,
  chosen,
  onChosen,
  error,
  selectAll,
}: {
  legend: string;
  values: T[];
  chosen: T[];
  onChosen: (chosen: T[]) => void;
  error: string | null;
  selectAll?: boolean;
}) {
  const errorId = `${legend.toLowerCase()}-error`;
  return (
    <fieldset class={`choices${error ? " invalid" : ""}`} aria-describedby={error ? errorId : undefined}>
      <legend>{legend}</legend>
      {selectAll && (
        <button type="button" class="secondary" onClick={() => onChosen([...values])}>
          Select all
        </button>
      )}
      <div class="choices-grid">
        {values.map((value) => (
          <label class="checkbox" key={value}>
            <input
              type="checkbox"
              name={legend.toLowerCase()}
              value={value}
              checked={chosen.includes(value)}
              onChange={(event) => {
                const on = (event.target as HTMLInputElement).checked;
                // Kept in the order listed, whatever the order of the clicks.
                onChosen(values.filter((v) => (v === value ? on : chosen.includes(v))));
              }}
            />
            <code>{value}</code>
          </label>
        ))}
      </div>
      {error && (
        <div class="error" id={errorId} role="alert">
          {error}
        </div>
      )}
    </fieldset>
  );
}

/** A delete button, and once pressed its confirmation; focus follows, so the keyboard keeps its place. */
function ConfirmDelete({
  id,
  label,
  confirm,
  busy,
  onConfirm,
}: {
  id: string;
  label: string;
  confirm: Confirming;
  busy: boolean;
  onConfirm: () => void;
}) {
  const open = confirm.key === id;
  const trigger = useRef<HTMLButtonElement>(null);
  const confirmButton = useRef<HTMLButtonElement>(null);
  // Back to the delete button after "Cancel" (after a deletion, the caller moves the focus).
  const cancelled = useRef(false);
  useEffect(() => {
    if (open) confirmButton.current?.focus();
    else if (cancelled.current) trigger.current?.focus();
    cancelled.current = false;
  }, [open]);
  if (!open) {
    return (
      <button type="button" class="secondary" aria-label={label} ref={trigger} onClick={() => confirm.set(id)}>
        Delete
      </button>
    );
  }
  return (
    <>
      <button type="button" class="danger" ref={confirmButton} disabled={busy} onClick={onConfirm}>
        Confirm delete
      </button>
      <button
        type="button"
        class="secondary"
        onClick={() => {
          cancelled.current = true;
          confirm.set(null);
        }}
      >
        Cancel
      </button>
    </>
  );
}

/** "Shown once": the words every secret comes with. */
function Secret({ label, value }: { label: string; value: string }) {
  return (
    <>
      {label} (shown once): <code class="secret">{value}</code>. Store it now: it will not be shown again.
    </>
  );
}

function webhookStatus(webhook: Webhook): { label: "enabled" | "disabled" | "failing"; badge: string; note: string | null } {
  if (webhook.status === "disabled") return { label: "disabled", badge: "badge warn", note: webhook.status_reason };
  // Enabled, but its deliveries fail (and are retried) since then.
  if (webhook.failing_since) return { label: "failing", badge: "badge warn", note: `since ${formatDate(webhook.failing_since)}` };
  return { label: "enabled", badge: "badge ok", note: null };
}

function Webhooks({ confirm }: { confirm: Confirming }) {
  const list = useLoad(async () => (await api.get("/webhooks")).data.items, []);
  const heading = useRef<HTMLHeadingElement>(null);
  const [url, setUrl] = useState("");
  const [events, setEvents] = useState<EventType[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [eventsError, setEventsError] = useState<string | null>(null);
  const [secret, setSecret] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const [notice, setNotice] = useState<Notice>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [deliveriesOf, setDeliveriesOf] = useState<string | null>(null);

  const field = fieldOf(error);
  const urlError = field === "url" ? messageOf(error) : null;
  const formError = error && field !== "url" && field !== "events" ? messageOf(error) : null;

  const add = async (event: Event) => {
    event.preventDefault();
    setError(null);
    setEventsError(null);
    setSecret(null);
    if (events.length === 0) {
      setEventsError("Choose at least one event.");
      return;
    }
    setSaving(true);
    try {
      const { data } = await api.post("/webhooks", { body: { url: url.trim(), events } });
      setSecret(data.secret);
      setUrl("");
      setEvents([]);
      list.reload();
    } catch (failure) {
      setError(failure);
      if (fieldOf(failure) === "events") setEventsError(messageOf(failure));
    } finally {
      setSaving(false);
    }
  };

  /** One action on one endpoint: its outcome in the notice above the list, which is read again. */
  const act = async (webhook: Webhook, action: () => Promise<Notice>) => {
    setBusy(webhook.id);
    setNotice(null);
    try {
      setNotice(await action());
    } catch (failure) {
      setNotice({ kind: "error", content: messageOf(failure) });
    } finally {
      setBusy(null);
      list.reload();
    }
  };

  const sendTest = (webhook: Webhook) =>
    act(webhook, async () => {
      const { data } = await api.post("/webhooks/{webhookId}/test", { path: { webhookId: webhook.id } });
      return {
        kind: "success",
        content: (
          <>
            A test event (<code>{data.event_id}</code>) is on its way to {webhook.url}. Its attempts show in Deliveries.
          </>
        ),
      };
    });

  const rotate = (webhook: Webhook) =>
    act(webhook, async () => {
      const { data } = await api.post("/webhooks/{webhookId}/rotate-secret", { path: { webhookId: webhook.id } });
      return {
        kind: "success",
        content: (
          <>
            <Secret label={`New signing secret of ${webhook.url}`} value={data.secret} /> The previous secret also signs each
            delivery until {formatDate(data.previous_secret_expires_at)}.
          </>
        ),
      };
    });

  const enable = (webhook: Webhook) =>
    act(webhook, async () => {
      await api.patch("/webhooks/{webhookId}", { path: { webhookId: webhook.id }, body: { enabled: true } });
      return { kind: "success", content: `${webhook.url} is enabled again.` };
    });

  const remove = (webhook: Webhook) =>
    act(webhook, async () => {
      await api.delete("/webhooks/{webhookId}", { path: { webhookId: webhook.id } });
      confirm.set(null);
      if (deliveriesOf === webhook.id) setDeliveriesOf(null);
      // Its row, and the focus in it, are gone: the section's heading takes the focus.
      heading.current?.focus();
      return { kind: "success", content: `${webhook.url} was deleted.` };
    });

  const webhooks = list.data ?? [];
  const shownDeliveries = webhooks.find((w) => w.id === deliveriesOf) ?? null;

  return (
    <section aria-labelledby="webhooks-heading">
      <h2 id="webhooks-heading" tabIndex={-1} ref={heading}>
        Webhooks
      </h2>
      <p class="muted">Each event you choose is sent, signed, to the endpoint as it happens.</p>
      {secret && (
        <Alert kind="success">
          <Secret label="Signing secret" value={secret} />
        </Alert>
      )}
      <form class="card" onSubmit={add} noValidate>
        {formError && <Alert>{formError}</Alert>}
        <Field
          label="Endpoint URL"
          value={url}
          onValue={setUrl}
          error={urlError}
          hint="An https address that answers 2xx within 5 seconds."
          type="url"
          required
          autoComplete="url"
          maxLength={2048}
        />
        <Checkboxes
          legend="Events"
          values={EVENT_TYPES}
          chosen={events}
          onChosen={(chosen) => {
            setEvents(chosen);
            if (chosen.length) setEventsError(null);
          }}
          error={eventsError}
          selectAll
        />
        <button type="submit" disabled={saving}>
          {saving && <span class="spinner" aria-hidden="true" />}
          Add endpoint
        </button>
      </form>

      {notice && <Alert kind={notice.kind}>{notice.content}</Alert>}
      {!list.data ? (
        <LoadState state={list} />
      ) : webhooks.length === 0 ? (
        <p class="muted">No endpoint yet.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">URL</th>
                <th scope="col">Events</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {webhooks.map((webhook) => {
                const status = webhookStatus(webhook);
                return (
                  <tr key={webhook.id}>
                    <Cell label="URL" class="long-text">
                      {webhook.url}
                      {webhook.description && <div class="muted cell-note">{webhook.description}</div>}
                    </Cell>
                    <Cell label="Events">
                      <details>
                        <summary>
                          {webhook.events.length} {webhook.events.length === 1 ? "event" : "events"}
                        </summary>
                        <ul class="code-list">
                          {webhook.events.map((e) => (
                            <li key={e}>
                              <code>{e}</code>
                            </li>
                          ))}
                        </ul>
                      </details>
                    </Cell>
                    <Cell label="Status">
                      <span class={status.badge}>{status.label}</span>
                      {status.note && <div class="muted cell-note">{status.note}</div>}
                    </Cell>
                    <Cell>
                      <div class="row-actions">
                        {webhook.status === "disabled" && (
                          <button type="button" class="secondary" aria-label={`Enable ${webhook.url}`} disabled={busy === webhook.id} onClick={() => void enable(webhook)}>
                            Enable
                          </button>
                        )}
                        <button type="button" class="secondary" aria-label={`Send test to ${webhook.url}`} disabled={busy === webhook.id} onClick={() => void sendTest(webhook)}>
                          Send test
                        </button>
                        <button
                          type="button"
                          class="secondary"
                          aria-label={`Deliveries of ${webhook.url}`}
                          aria-expanded={deliveriesOf === webhook.id}
                          aria-controls="webhook-deliveries"
                          onClick={() => setDeliveriesOf(deliveriesOf === webhook.id ? null : webhook.id)}
                        >
                          Deliveries
                        </button>
                        <button type="button" class="secondary" aria-label={`Rotate secret of ${webhook.url}`} disabled={busy === webhook.id} onClick={() => void rotate(webhook)}>
                          Rotate secret
                        </button>
                        <ConfirmDelete
                          id={`webhook:${webhook.id}`}
                          label={`Delete ${webhook.url}`}
                          confirm={confirm}
                          busy={busy === webhook.id}
                          onConfirm={() => void remove(webhook)}
                        />
                      </div>
                    </Cell>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {shownDeliveries && <Deliveries key={shownDeliveries.id} webhook={shownDeliveries} onClose={() => setDeliveriesOf(null)} />}
    </section>
  );
}

/** An endpoint's delivery attempts of the last 3 days, newest first. */
function Deliveries({ webhook, onClose }: { webhook: Webhook; onClose: () => void }) {
  const attempts = useLoad(
    async () => (await api.get("/webhooks/{webhookId}/deliveries", { path: { webhookId: webhook.id }, query: { limit: 50 } })).data.items,
    [webhook.id],
  );
  const heading = useRef<HTMLHeadingElement>(null);
  useLayoutEffect(() => {
    heading.current?.focus();
  }, []);
  return (
    <div class="card webhook-deliveries" id="webhook-deliveries">
      <h3 tabIndex={-1} ref={heading}>
        Deliveries of {webhook.url}
      </h3>
      <div class="actions">
        <button type="button" class="secondary" onClick={attempts.reload} disabled={attempts.loading}>
          Refresh deliveries
        </button>
        <button type="button" class="secondary" onClick={onClose}>
          Close deliveries
        </button>
      </div>
      {!attempts.data ? (
        <LoadState state={attempts} />
      ) : attempts.data.length === 0 ? (
        <p class="muted">No delivery attempt in the last 3 days.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Event</th>
                <th scope="col" class="num">
                  Status code
                </th>
                <th scope="col">Result</th>
              </tr>
            </thead>
            <tbody>
              {attempts.data.map((attempt) => (
                <tr key={attempt.id}>
                  <Cell label="Time">{formatDate(attempt.attempted_at)}</Cell>
                  <Cell label="Event">
                    <code>{attempt.event_type}</code>
                  </Cell>
                  <Cell label="Status code" class="num">
                    {attempt.response_status ?? "–"}
                  </Cell>
                  <Cell label="Result">
                    <span class={attempt.outcome === "delivered" ? "badge ok" : "badge warn"}>{attempt.outcome}</span>
                    <div class="muted cell-note">
                      {attempt.error ? `${attempt.error}, ` : ""}
                      {attempt.duration_ms} ms
                    </div>
                  </Cell>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

function ApiClients({ confirm }: { confirm: Confirming }) {
  const list = useLoad(async () => (await api.get("/api-clients")).data.items, []);
  const heading = useRef<HTMLHeadingElement>(null);
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<Scope[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [scopesError, setScopesError] = useState<string | null>(null);
  const [created, setCreated] = useState<Schemas["ApiClientCreated"] | null>(null);
  const [saving, setSaving] = useState(false);
  const [notice, setNotice] = useState<Notice>(null);
  const [busy, setBusy] = useState<string | null>(null);

  const field = fieldOf(error);
  const nameError = field === "name" ? messageOf(error) : null;
  const formError = error && field !== "name" && field !== "scopes" ? messageOf(error) : null;

  const create = async (event: Event) => {
    event.preventDefault();
    setError(null);
    setScopesError(null);
    setCreated(null);
    if (scopes.length === 0) {
      setScopesError("Choose at least one scope.");
      return;
    }
    setSaving(true);
    try {
      const { data } = await api.post("/api-clients", { body: { name: name.trim(), scopes } });
      setCreated(data);
      setName("");
      setScopes([]);
      list.reload();
    } catch (failure) {
      setError(failure);
      if (fieldOf(failure) === "scopes") setScopesError(messageOf(failure));
    } finally {
      setSaving(false);
    }
  };

  const remove = async (client: Schemas["ApiClient"]) => {
    setBusy(client.client_id);
    setNotice(null);
    try {
      await api.delete("/api-clients/{clientId}", { path: { clientId: client.client_id } });
      confirm.set(null);
      heading.current?.focus();
      setNotice({ kind: "success", content: `${client.name} was deleted; its tokens stop working within seconds.` });
    } catch (failure) {
      setNotice({ kind: "error", content: messageOf(failure) });
    } finally {
      setBusy(null);
      list.reload();
    }
  };

  const clients = list.data ?? [];

  return (
    <section aria-labelledby="clients-heading">
      <h2 id="clients-heading" tabIndex={-1} ref={heading}>
        API clients
      </h2>
      <p class="muted">Another system reads or changes your products and orders with a client's ID and secret.</p>
      {created && (
        <Alert kind="success">
          <p>
            API client {created.name} created. Client ID: <code>{created.client_id}</code>
          </p>
          <p>
            <Secret label="Client secret" value={created.client_secret} />
          </p>
          {created.token_endpoint && (
            <p class="long-text">
              Token endpoint: <code>{created.token_endpoint}</code>
            </p>
          )}
        </Alert>
      )}
      <form class="card" onSubmit={create} noValidate>
        {formError && <Alert>{formError}</Alert>}
        <Field
          label="Client name"
          value={name}
          onValue={setName}
          error={nameError}
          required
          maxLength={64}
          autoComplete="off"
        />
        <Checkboxes
          legend="Scopes"
          values={SCOPES}
          chosen={scopes}
          onChosen={(chosen) => {
            setScopes(chosen);
            if (chosen.length) setScopesError(null);
          }}
          error={scopesError}
        />
        <button type="submit" disabled={saving}>
          {saving && <span class="spinner" aria-hidden="true" />}
          Create client
        </button>
      </form>

      {notice && <Alert kind={notice.kind}>{notice.content}</Alert>}
      {!list.data ? (
        <LoadState state={list} />
      ) : clients.length === 0 ? (
        <p class="muted">No API client yet.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Client ID</th>
                <th scope="col">Scopes</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {clients.map((client) => (
                <tr key={client.client_id}>
                  <Cell label="Name">{client.name}</Cell>
                  <Cell label="Client ID" class="long-text">
                    <code>{client.client_id}</code>
                  </Cell>
                  <Cell label="Scopes">
                    <ul class="code-list">
                      {client.scopes.map((s) => (
                        <li key={s}>
                          <code>{s}</code>
                        </li>
                      ))}
                    </ul>
                  </Cell>
                  <Cell label="Created">{formatDate(client.created_at)}</Cell>
                  <Cell>
                    <div class="row-actions">
                      <ConfirmDelete
                        id={`client:${client.client_id}`}
                        label={`Delete client ${client.name}`}
                        confirm={confirm}
                        busy={busy === client.client_id}
                        onConfirm={() => void remove(client)}
                      />
                    </div>
                  </Cell>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
