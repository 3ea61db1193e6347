// Integrations (admins): webhook endpoints that receive the organization's events, and API
// clients that reach its products and orders from other systems. Secrets (an endpoint's signing
// secret, a client's secret) are shown once, when the API gives them, and never again.
import type { ComponentChildren } from "preact";
import { useLayoutEffect, useRef, useState } from "preact/hooks";
import { api, type Schemas } from "../api";
import { session } from "../auth";
import { config } from "../config";
import { formatDate } from "../format";
import { useStore } from "../store";
import { ConfirmButton } from "../ui/confirm";
import { Alert, Field, LoadState, PageTitle, fieldOf, messageOf, useLoad } from "../ui/kit";
import { ACTIONS, Cell, Table } from "../ui/table";

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
  return (
    <ConfirmButton
      open={confirm.key === id}
      onOpen={() => confirm.set(id)}
      onCancel={() => confirm.set(null)}
      onConfirm={onConfirm}
      label="Delete"
      ariaLabel={label}
      confirmLabel="Confirm delete"
      busy={busy}
      moveFocus
    />
  );
}

/**
 * The form that adds what is named by one field and a few choices (an endpoint and its events, a
 * client and its scopes). Without a choice it is not sent; the API's errors show by the field they name.
 */
function useCreateForm<T extends string, R>({
  field,
  choices,
  noChoice,
  create,
  onCreated,
}: {
  /** The API's names of the text field and of the choices. */
  field: string;
  choices: string;
  noChoice: string;
  create: (text: string, chosen: T[]) => Promise<R>;
  onCreated: () => void;
}) {
  const [text, setText] = useState("");
  const [chosen, setChosen] = useState<T[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [choicesError, setChoicesError] = useState<string | null>(null);
  const [created, setCreated] = useState<R | null>(null);
  const [saving, setSaving] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    setChoicesError(null);
    setCreated(null);
    if (chosen.length === 0) {
      setChoicesError(noChoice);
      return;
    }
    setSaving(true);
    try {
      setCreated(await create(text.trim(), chosen));
      setText("");
      setChosen([]);
      onCreated();
    } catch (failure) {
      setError(failure);
      if (fieldOf(failure) === choices) setChoicesError(messageOf(failure));
    } finally {
      setSaving(false);
    }
  };

  const named = fieldOf(error);
  return {
    text,
    setText,
    chosen,
    choose: (next: T[]) => {
      setChosen(next);
      if (next.length) setChoicesError(null);
    },
    created,
    saving,
    submit,
    textError: named === field ? messageOf(error) : null,
    choicesError,
    formError: error && named !== field && named !== choices ? messageOf(error) : null,
  };
}

/** The form of `useCreateForm`: its text field, its checkboxes and its submit button. */
function CreateForm<T extends string>({
  form,
  field,
  legend,
  values,
  selectAll,
  submit,
}: {
  form: ReturnType<typeof useCreateForm<T, unknown>>;
  field: Omit<Parameters<typeof Field>[0], "value" | "onValue" | "error">;
  legend: string;
  values: T[];
  selectAll?: boolean;
  submit: string;
}) {
  return (
    <form class="card" onSubmit={form.submit} noValidate>
      {form.formError && <Alert>{form.formError}</Alert>}
      <Field {...field} value={form.text} onValue={form.setText} error={form.textError} />
      <Checkboxes legend={legend} values={values} chosen={form.chosen} onChosen={form.choose} error={form.choicesError} selectAll={selectAll} />
      <button type="submit" disabled={form.saving}>
        {form.saving && <span class="spinner" aria-hidden="true" />}
        {submit}
      </button>
    </form>
  );
}

/** One action on one row at a time: its outcome in the notice above the list, which is read again. */
function useRowActions(reload: () => void) {
  const [notice, setNotice] = useState<Notice>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const act = async (id: string, action: () => Promise<Notice>) => {
    setBusy(id);
    setNotice(null);
    try {
      setNotice(await action());
    } catch (failure) {
      setNotice({ kind: "error", content: messageOf(failure) });
    } finally {
      setBusy(null);
      reload();
    }
  };
  return { notice, busy, act };
}

/** A credential whose secret is known to someone who has left the organization (`orphaned`). */
function OrphanedNote({ action }: { action: string }) {
  return (
    <div class="cell-note">
      <span class="badge warn">creator left</span> Its secret is known to someone no longer in the organization. {action}
    </div>
  );
}

/** Above a list: how many of its credentials are flagged, and what to do with each. */
function OrphanedAlert({ count, what, action }: { count: number; what: string; action: string }) {
  if (count === 0) return null;
  return (
    <Alert kind="info">
      {count === 1 ? `One ${what} was` : `${count} ${what}s were`} set up by someone who has left the organization: {action}.
    </Alert>
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
  const form = useCreateForm<EventType, string>({
    field: "url",
    choices: "events",
    noChoice: "Choose at least one event.",
    create: async (url, events) => (await api.post("/webhooks", { body: { url, events } })).data.secret,
    onCreated: list.reload,
  });
  const { notice, busy, act } = useRowActions(list.reload);
  const [deliveriesOf, setDeliveriesOf] = useState<string | null>(null);

  const sendTest = (webhook: Webhook) =>
    act(webhook.id, async () => {
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
    act(webhook.id, async () => {
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
    act(webhook.id, async () => {
      await api.patch("/webhooks/{webhookId}", { path: { webhookId: webhook.id }, body: { enabled: true } });
      return { kind: "success", content: `${webhook.url} is enabled again.` };
    });

  const remove = (webhook: Webhook) =>
    act(webhook.id, async () => {
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
      {form.created && (
        <Alert kind="success">
          <Secret label="Signing secret" value={form.created} />
        </Alert>
      )}
      <CreateForm
        form={form}
        field={{
          label: "Endpoint URL",
          hint: "An https address that answers 2xx within 5 seconds.",
          type: "url",
          required: true,
          autoComplete: "url",
          maxLength: 2048,
        }}
        legend="Events"
        values={EVENT_TYPES}
        selectAll
        submit="Add endpoint"
      />

      {notice && <Alert kind={notice.kind}>{notice.content}</Alert>}
      <OrphanedAlert count={webhooks.filter((w) => w.orphaned).length} what="endpoint" action="rotate its secret or delete it" />
      {!list.data ? (
        <LoadState state={list} />
      ) : webhooks.length === 0 ? (
        <p class="muted">No endpoint yet.</p>
      ) : (
        <Table columns={["URL", "Events", "Status", ACTIONS]}>
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
                  {webhook.orphaned && <OrphanedNote action="Rotate its secret or delete it." />}
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
        </Table>
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
        <Table columns={["Time", "Event", { name: "Status code", num: true }, "Result"]}>
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
        </Table>
      )}
    </div>
  );
}

function ApiClients({ confirm }: { confirm: Confirming }) {
  const list = useLoad(async () => (await api.get("/api-clients")).data.items, []);
  const heading = useRef<HTMLHeadingElement>(null);
  const form = useCreateForm<Scope, Schemas["ApiClientCreated"]>({
    field: "name",
    choices: "scopes",
    noChoice: "Choose at least one scope.",
    create: async (name, scopes) => (await api.post("/api-clients", { body: { name, scopes } })).data,
    onCreated: list.reload,
  });
  const { notice, busy, act } = useRowActions(list.reload);

  const remove = (client: Schemas["ApiClient"]) =>
    act(client.client_id, async () => {
      await api.delete("/api-clients/{clientId}", { path: { clientId: client.client_id } });
      confirm.set(null);
      heading.current?.focus();
      return { kind: "success", content: `${client.name} was deleted; its tokens stop working within seconds.` };
    });

  const clients = list.data ?? [];

  return (
    <section aria-labelledby="clients-heading">
      <h2 id="clients-heading" tabIndex={-1} ref={heading}>
        API clients
      </h2>
      <p class="muted">Another system reads or changes your products and orders with a client's ID and secret.</p>
      {form.created && (
        <Alert kind="success">
          <p>
            API client {form.created.name} created. Client ID: <code>{form.created.client_id}</code>
          </p>
          <p>
            <Secret label="Client secret" value={form.created.client_secret} />
          </p>
          {form.created.token_endpoint && (
            <p class="long-text">
              Token endpoint: <code>{form.created.token_endpoint}</code>
            </p>
          )}
        </Alert>
      )}
      <CreateForm
        form={form}
        field={{ label: "Client name", required: true, maxLength: 64, autoComplete: "off" }}
        legend="Scopes"
        values={SCOPES}
        submit="Create client"
      />

      {notice && <Alert kind={notice.kind}>{notice.content}</Alert>}
      <OrphanedAlert count={clients.filter((c) => c.orphaned).length} what="API client" action="delete it (and create another if the integration still needs one)" />
      {!list.data ? (
        <LoadState state={list} />
      ) : clients.length === 0 ? (
        <p class="muted">No API client yet.</p>
      ) : (
        <Table columns={["Name", "Client ID", "Scopes", "Created", ACTIONS]}>
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
              <Cell label="Created">
                {formatDate(client.created_at)}
                {client.orphaned && <OrphanedNote action="Delete it." />}
              </Cell>
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
        </Table>
      )}
    </section>
  );
}
