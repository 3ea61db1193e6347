// Home: the organization's plan and usage, and what is left to set up; or, for someone who is
// in no organization now, where to create one or answer an invitation.
import { api } from "../api";
import { session } from "../auth";
import { formatNumber } from "../format";
import { organization, type Organization } from "../org";
import { useStore } from "../store";
import { Alert, PageTitle, Usage, useLoad } from "../ui/kit";

const PLAN_NAMES: Record<string, string> = { basic: "Basic", standard: "Standard", premium: "Premium" };

const STATUS_NAMES: Record<string, string> = { active: "Active", provisioning: "Being set up" };

export default function Home() {
  const claims = useStore(session)?.claims;
  const org = useStore(organization);
  // Answering an invitation is for everyone; a failure here only hides the reminder.
  const invitations = useLoad(() => api.get("/me/invitations").then(({ data }) => data.items), []);
  const waiting = invitations.data?.length ?? 0;
  const reminder =
    waiting > 0 ? (
      <Alert kind="info">
        {waiting === 1 ? "You have 1 invitation waiting for your answer." : `You have ${waiting} invitations waiting for your answer.`}{" "}
        <a href="/organizations">See invitations</a>
      </Alert>
    ) : null;

  if (!claims?.tenant_id) {
    return (
      <>
        <PageTitle>Welcome</PageTitle>
        {reminder}
        <p>You are not in an organization now.</p>
        <p>
          <a href="/organizations">Create an organization or answer an invitation</a>
        </p>
      </>
    );
  }

  const tenant = org.tenant;
  if (!tenant) {
    // The shell shows why the organization cannot be used (its banner), or loads it.
    return (
      <>
        <PageTitle>Welcome</PageTitle>
        {reminder}
        {org.loading && <p class="muted">Loading…</p>}
      </>
    );
  }

  const admin = claims.tenant_role === "admin";
  return (
    <>
      <PageTitle>Welcome to {tenant.settings.display_name ?? tenant.name}</PageTitle>
      {reminder}
      {tenant.read_only && (
        <Alert kind="warning">
          <strong>This organization is read-only.</strong> It uses more than its plan allows, so its data can be read but not
          changed until it is within the plan's limits again or a larger plan is paid. <a href="/billing">See billing</a>
        </Alert>
      )}
      <div class="cards">
        <Plan tenant={tenant} />
        <NextSteps tenant={tenant} admin={admin} />
      </div>
    </>
  );
}

function Plan({ tenant }: { tenant: Organization }) {
  const { limits, usage } = tenant;
  return (
    <section class="card tight" aria-labelledby="plan-title">
      <h2 id="plan-title">Your plan</h2>
      <p>
        <strong>{PLAN_NAMES[tenant.tier] ?? tenant.tier}</strong>{" "}
        <span class={`badge${tenant.status === "active" ? " ok" : ""}`}>{STATUS_NAMES[tenant.status] ?? tenant.status}</span>
      </p>
      <Usage label="Users" used={usage.users} limit={limits.max_users} />
      <Usage label="Products" used={usage.products} limit={limits.max_products} />
      <Usage label="Orders this month" used={usage.orders_this_month} limit={limits.max_orders_per_month} />
      <p class="muted">
        Up to {plural(limits.max_webhooks, "webhook endpoint")} and {plural(limits.max_api_clients, "API client")}.
      </p>
    </section>
  );
}

function plural(count: number, noun: string): string {
  return `${formatNumber(count)} ${noun}${count === 1 ? "" : "s"}`;
}

function NextSteps({ tenant, admin }: { tenant: Organization; admin: boolean }) {
  const settings = tenant.settings;
  const steps = [
    { href: "/products", label: "Add your first product", done: tenant.usage.products > 0, show: true },
    { href: "/users", label: "Invite a colleague", done: tenant.usage.users > 1, show: admin },
    {
      href: "/settings",
      label: "Personalize your space",
      done: Boolean(settings.logo_url || settings.primary_color || settings.display_name),
      show: admin,
    },
    { href: "/billing", label: "Choose a plan", done: tenant.tier !== "basic", show: admin },
  ].filter((step) => step.show);
  return (
    <section class="card tight" aria-labelledby="next-title">
      <h2 id="next-title">What to do next</h2>
      <ul class="checklist">
        {steps.map((step) => (
          <li key={step.href} class={step.done ? "done" : ""}>
            <span class="check" aria-hidden="true">
              {step.done ? "✓" : ""}
            </span>
            <a href={step.href}>{step.label}</a>
            <span class="visually-hidden">{step.done ? " (done)" : " (to do)"}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}
