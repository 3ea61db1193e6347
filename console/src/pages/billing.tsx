// Billing: the plan, the subscription and its invoices; for admins, the provider's hosted checkout
// (a paid plan) and customer portal (card, plan changes, cancellation). Coming back from the
// checkout (`?checkout=done`), the page waits for the provider's confirmation to reach the API.
import { useEffect, useState } from "preact/hooks";
import { api, type Schemas } from "../api";
import { session } from "../auth";
import { formatDate, formatMoney, formatNumber } from "../format";
import { loadOrganization } from "../org";
import { useLocation } from "../router";
import { useStore } from "../store";
import { Alert, LoadState, PageTitle, Select, messageOf, useLoad } from "../ui/kit";
import { Cell, Table } from "../ui/table";

type Overview = Schemas["BillingOverview"];
type Tier = Overview["plan"];

const PLAN_NAMES: Record<Tier, string> = { basic: "Basic", standard: "Standard", premium: "Premium" };
const TIERS: Tier[] = ["basic", "standard", "premium"];
const STATUS_NAMES: Record<Overview["status"], string> = {
  none: "No subscription",
  active: "Active",
  past_due: "Payment overdue",
  ended: "Ended",
};

const POLL_EVERY_MS = 2_000;
const POLL_FOR_MS = 60_000;

export default function Billing() {
  const claims = useStore(session)?.claims;
  const admin = claims?.tenant_role === "admin";
  const { query } = useLocation();
  const state = useLoad(() => api.get("/billing").then(({ data }) => data), []);
  // The answer of the last poll, shown once newer than the first load.
  const [polled, setPolled] = useState<Overview | null>(null);
  const confirming = useConfirmation(query.get("checkout") === "done", setPolled);
  const billing = polled ?? state.data;

  return (
    <>
      <PageTitle>Billing</PageTitle>
      {confirming.phase === "waiting" && (
        <Alert kind="success">
          <span class="spinner" aria-hidden="true" /> Thank you. Your payment is being confirmed…
        </Alert>
      )}
      {confirming.phase === "confirmed" && confirming.plan && (
        <Alert kind="success">Your plan is now {PLAN_NAMES[confirming.plan]}.</Alert>
      )}
      {confirming.phase === "slow" && (
        <Alert kind="info">
          Your payment is taking longer than usual to be confirmed. This page will show your new plan once it is: reload it in a
          few minutes.
        </Alert>
      )}
      {query.get("checkout") === "cancelled" && (
        <Alert kind="info">The payment was cancelled. Your plan has not changed.</Alert>
      )}
      {billing ? <Summary billing={billing} admin={admin} /> : <LoadState state={state} />}
    </>
  );
}

type Phase = "idle" | "waiting" | "confirmed" | "slow";

/** After the checkout: GET /billing every 2 s, for up to a minute, until the paid plan shows. */
function useConfirmation(active: boolean, onAnswer: (billing: Overview) => void): { phase: Phase; plan: Tier | null } {
  const [result, setResult] = useState<{ phase: Phase; plan: Tier | null }>({ phase: active ? "waiting" : "idle", plan: null });
  useEffect(() => {
    if (!active) return;
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const until = Date.now() + POLL_FOR_MS;
    setResult({ phase: "waiting", plan: null });
    const poll = async () => {
      try {
        const { data } = await api.get("/billing");
        if (!live) return;
        onAnswer(data);
        if (data.plan !== "basic" || data.status === "active") {
          setResult({ phase: "confirmed", plan: data.plan });
          // The plan's limits and the header follow the new tier.
          void loadOrganization();
          return;
        }
      } catch {
        // A failed poll is tried again with the next one.
      }
      if (!live) return;
      if (Date.now() + POLL_EVERY_MS > until) setResult({ phase: "slow", plan: null });
      else timer = setTimeout(poll, POLL_EVERY_MS);
    };
    void poll();
    return () => {
      live = false;
      if (timer) clearTimeout(timer);
    };
  }, [active]);
  return result;
}

function Summary({ billing, admin }: { billing: Overview; admin: boolean }) {
  const [interval, setPeriod] = useState<"month" | "year">("month");
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  // A subscription not ended changes plan in the portal; the checkout is for a new one.
  const subscribed = billing.status === "active" || billing.status === "past_due";
  const hasAccount = billing.status !== "none" || billing.invoices.length > 0 || billing.subscribed_plan !== null;
  const upgrades = subscribed ? [] : TIERS.filter((tier) => TIERS.indexOf(tier) > TIERS.indexOf(billing.plan));

  const go = async (what: string, open: () => Promise<{ data: { url: string } }>) => {
    setBusy(what);
    setError(null);
    try {
      const { data } = await open();
      location.assign(data.url);
    } catch (err) {
      setError(messageOf(err));
      setBusy(null);
    }
  };
  const payNow = billing.status === "past_due" || (billing.suspended_for_payment && hasAccount);
  const portal = () => go("portal", () => api.post("/billing/portal"));
  const portalButton = (
    <button type="button" class="secondary" onClick={portal} disabled={busy !== null}>
      {busy === "portal" && <span class="spinner" aria-hidden="true" />}
      Manage payment and invoices
    </button>
  );

  return (
    <>
      {billing.status === "past_due" && (
        <Alert kind="warning">
          {billing.grace_deadline
            ? `Your last payment failed. Pay before ${formatDate(billing.grace_deadline)} to keep your plan.`
            : "Your last payment failed. Pay soon to keep your plan."}
          {admin && <div class="actions">{portalButton}</div>}
        </Alert>
      )}
      {billing.suspended_for_payment && (
        <Alert kind="error">
          This organization is suspended until a payment goes through.
          {admin && billing.status !== "past_due" && payNow && <div class="actions">{portalButton}</div>}
        </Alert>
      )}
      {error && <Alert>{error}</Alert>}
      <section class="card tight" aria-labelledby="plan-title">
        <h2 id="plan-title">Your plan</h2>
        <dl class="facts billing-facts">
          <dt>Plan</dt>
          <dd>{PLAN_NAMES[billing.plan]}</dd>
          <dt>Subscription</dt>
          <dd>
            <span class={`badge${billing.status === "active" ? " ok" : billing.status === "past_due" ? " warn" : ""}`}>
              {STATUS_NAMES[billing.status]}
            </span>
            {billing.subscribed_plan && billing.subscribed_plan !== billing.plan && (
              <> (to {PLAN_NAMES[billing.subscribed_plan]}, once it is applied)</>
            )}
          </dd>
          {billing.period_end && (
            <>
              <dt>{billing.status === "ended" ? "Ended" : "Current period ends"}</dt>
              <dd>{formatDate(billing.period_end)}</dd>
            </>
          )}
        </dl>
        {admin ? (
          <>
            {upgrades.length > 0 && (
              <div class="upgrade">
                <Select
                  label="Billing interval"
                  value={interval}
                  onValue={(value) => setPeriod(value === "year" ? "year" : "month")}
                  options={[
                    { value: "month", label: "Monthly" },
                    { value: "year", label: "Yearly" },
                  ]}
                />
                <div class="actions">
                  {upgrades.map((tier) => (
                    <button
                      key={tier}
                      type="button"
                      disabled={busy !== null}
                      onClick={() =>
                        go(tier, () => api.post("/billing/checkout", { body: { plan: tier === "premium" ? "premium" : "standard", interval } }))
                      }
                    >
                      {busy === tier && <span class="spinner" aria-hidden="true" />}
                      Upgrade to {PLAN_NAMES[tier]}
                    </button>
                  ))}
                </div>
              </div>
            )}
            {subscribed && <p class="muted">To change your plan or cancel it, use the payment portal.</p>}
            {hasAccount && !payNow && <div class="actions">{portalButton}</div>}
          </>
        ) : (
          <Alert kind="info">Only admins can change the plan.</Alert>
        )}
      </section>
      <h2>Invoices</h2>
      {billing.invoices.length === 0 ? (
        <p class="muted">No invoices yet.</p>
      ) : (
        <Table columns={["Number", "Date", { name: "Amount", num: true }, "Status", "Invoice"]}>
          {billing.invoices.map((invoice) => (
            <tr key={invoice.id}>
              <Cell label="Number">
                <code>{invoice.id}</code>
              </Cell>
              <Cell label="Date">{formatDate(invoice.at)}</Cell>
              <Cell label="Amount" class="num">
                {invoice.currency ? formatMoney(invoice.amount, invoice.currency.toUpperCase()) : formatNumber(invoice.amount / 100)}
              </Cell>
              <Cell label="Status">
                <span class={`badge${invoice.status === "paid" ? " ok" : " warn"}`}>{invoice.status === "paid" ? "Paid" : "Failed"}</span>
              </Cell>
              <Cell label="Invoice">
                {invoice.url ? (
                  <a href={invoice.url} target="_blank" rel="noopener noreferrer" aria-label={`View invoice ${invoice.id} (opens a new tab)`}>
                    View
                  </a>
                ) : (
                  "–"
                )}
              </Cell>
            </tr>
          ))}
        </Table>
      )}
    </>
  );
}
