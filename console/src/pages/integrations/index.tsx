// Integrations (admins): webhook endpoints that receive the organization's events, and API
// clients that reach its products and orders from other systems. Secrets (an endpoint's signing
// secret, a client's secret) are shown once, when the API gives them, and never again.

import { useState } from "preact/hooks";
import { session } from "../../auth";
import { config } from "../../config";
import { useStore } from "../../store";
import { Alert, PageTitle } from "../../ui/kit";
import { ApiClients } from "./api-clients";
import { Webhooks } from "./webhooks";

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
