// Webhook endpoints: the organization's events, signed, sent to its receivers; their deliveries.

import { useLayoutEffect, useRef, useState } from "preact/hooks";
import { api, type Schemas } from "../../api";
import { formatDate } from "../../format";
import { Alert, LoadState, useLoad } from "../../ui/kit";
import { ACTIONS, Cell, Table } from "../../ui/table";
import { type Confirming, ConfirmDelete, CreateForm, OrphanedAlert, OrphanedNote, Secret, useCreateForm, useRowActions } from "./parts";

type EventType = Schemas["EventType"];

type Webhook = Schemas["Webhook"];

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

function webhookStatus(webhook: Webhook): { label: "enabled" | "disabled" | "failing"; badge: string; note: string | null } {
  if (webhook.status === "disabled") return { label: "disabled", badge: "badge warn", note: webhook.status_reason };
  // Enabled, but its deliveries fail (and are retried) since then.
  if (webhook.failing_since) return { label: "failing", badge: "badge warn", note: `since ${formatDate(webhook.failing_since)}` };
  return { label: "enabled", badge: "badge ok", note: null };
}

export function Webhooks({ confirm }: { confirm: Confirming }) {
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
