// API clients: other systems that reach the organization's products and orders with a secret.

import { useRef } from "preact/hooks";
import { api, type Schemas } from "../../api";
import { formatDate } from "../../format";
import { Alert, LoadState, useLoad } from "../../ui/kit";
import { ACTIONS, Cell, Table } from "../../ui/table";
import { type Confirming, ConfirmDelete, CreateForm, OrphanedAlert, OrphanedNote, Secret, useCreateForm, useRowActions } from "./parts";

type Scope = Schemas["ApiClientScope"];

const SCOPES = Object.keys({
  "products.read": 1,
  "products.write": 1,
  "orders.read": 1,
  "orders.write": 1,
} satisfies Record<Scope, 1>) as Scope[];

export function ApiClients({ confirm }: { confirm: Confirming }) {
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
