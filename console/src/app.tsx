// The shell: the public pages before sign-in; after it, the header (the organization's logo and
// name, the organization switcher, the person's menu), the navigation and the page. When the
// session ends while a page is open (expired, access withdrawn), the page stays as it was under
// a sign-in dialog, so nothing typed is lost.
import type { ComponentType } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { session, sessionEnded } from "./auth";
import { loadOrganization, organization } from "./org";
import { navigate, onLinkClick, useLocation } from "./router";
import { useStore } from "./store";
import { Alert } from "./ui/kit";
import { OrgSwitcher } from "./ui/switcher";
import SignIn from "./pages/signin";
import { ReauthDialog, SignOutButton } from "./ui/sign-in";

type PageModule = { default: ComponentType };
type Loader = () => Promise<PageModule>;

/** The pages after sign-in, each its own chunk. */
const PAGES: Record<string, { title: string; load: Loader; nav?: boolean; needsTenant?: boolean; operator?: boolean }> = {
  "/": { title: "Home", load: () => import("./pages/home"), nav: true },
  "/products": { title: "Products", load: () => import("./pages/products"), nav: true, needsTenant: true },
  "/orders": { title: "Orders", load: () => import("./pages/orders"), nav: true, needsTenant: true },
  "/users": { title: "Users", load: () => import("./pages/users"), nav: true, needsTenant: true },
  "/settings": { title: "Settings", load: () => import("./pages/settings"), nav: true, needsTenant: true },
  "/billing": { title: "Billing", load: () => import("./pages/billing"), nav: true, needsTenant: true },
  "/integrations": { title: "Integrations", load: () => import("./pages/integrations"), nav: true, needsTenant: true },
  "/organizations": { title: "Organizations", load: () => import("./pages/organizations"), nav: true },
  "/operator": { title: "Operator", load: () => import("./pages/operator"), nav: true, operator: true },
  "/profile": { title: "Profile", load: () => import("./pages/profile") },
};

/** The pages before sign-in. */
const PUBLIC: Record<string, Loader> = {
  // The first page most people see: in the main chunk, not one of its own.
  "/sign-in": async () => ({ default: SignIn }),
  "/sign-up": () => import("./pages/signup"),
  "/confirm": () => import("./pages/signup"),
  "/forgot-password": async () => ({ default: SignIn }),
};

const RELOADED_KEY = "tenantry.reloaded-for";

/** A page's chunk. One that cannot be fetched belongs to an older build: the page is reloaded once. */
function useModule(load: Loader | undefined, key: string): ComponentType | null {
  const [found, setFound] = useState<{ key: string; page: ComponentType } | null>(null);
  useEffect(() => {
    let live = true;
    load?.().then(
      (module) => {
        sessionStorage.removeItem(RELOADED_KEY);
        if (live) setFound({ key, page: module.default });
      },
      () => {
        if (!live) return;
        if (sessionStorage.getItem(RELOADED_KEY) !== key) {
          // A new version of the console was published since this page was loaded.
          sessionStorage.setItem(RELOADED_KEY, key);
          location.reload();
        } else {
          setFound({ key, page: Unavailable });
        }
      },
    );
    return () => {
      live = false;
    };
  }, [key]);
  return found?.key === key ? found.page : null;
}

function Unavailable() {
  return (
    <Alert>
      This page could not be loaded. Check your connection, then{" "}
      <button type="button" class="link" onClick={() => location.reload()}>
        reload
      </button>
      .
    </Alert>
  );
}

export function App() {
  const current = useStore(session);
  const ended = useStore(sessionEnded);
  const [wasIn, setWasIn] = useState(false);
  useEffect(() => {
    if (current) setWasIn(true);
  }, [current]);
  if (current) return <Shell />;
  if (wasIn && ended && ended !== "signed-out") {
    return (
      <>
        <Shell />
        <ReauthDialog reason={ended} />
      </>
    );
  }
  return <Public />;
}

function Public() {
  const { path } = useLocation();
  const key = PUBLIC[path] ? path : "/sign-in";
  const Page = useModule(PUBLIC[key], key);
  useEffect(() => {
    if (!PUBLIC[path]) navigate(`/sign-in${path !== "/" && path !== "/sign-in" ? `?next=${encodeURIComponent(path)}` : ""}`, true);
  }, [path]);
  return (
    <div class="public" onClick={onLinkClick}>
      <header class="public-header">
        <span class="brand-mark" aria-hidden="true">T</span> Tenantry
      </header>
      <main id="main">{Page ? <Page /> : <p class="muted">Loading…</p>}</main>
    </div>
  );
}

function Shell() {
  const current = useStore(session);
  const org = useStore(organization);
  const { path } = useLocation();
  // While the sign-in-again dialog is open there is no session: the page stays as it was.
  const last = useRef(current);
  if (current) last.current = current;
  const claims = (current ?? last.current)?.claims;
  const tenantId = claims?.tenant_id ?? null;
  const operator = (claims?.["cognito:groups"] ?? []).includes("platform-admin");
  const [menuOpen, setMenuOpen] = useState(false);

  // The organization's record, again whenever the tokens carry another one.
  useEffect(() => {
    if (tenantId) void loadOrganization();
    else organization.set({ tenant: null, blocked: null, loading: false });
  }, [tenantId, claims?.tenant_role]);

  useEffect(() => {
    if (PUBLIC[path]) navigate("/", true);
  }, [path]);

  const entry = PAGES[path] ?? PAGES["/"];
  const key = `${PAGES[path] ? path : "/"}|${tenantId ?? ""}`;
  const Page = useModule(entry.load, key);
  useEffect(() => {
    document.title = `${entry.title} · ${org.tenant?.settings.display_name ?? org.tenant?.name ?? "Tenantry"}`;
    setMenuOpen(false);
  }, [path, org.tenant]);

  const name = org.tenant?.settings.display_name ?? org.tenant?.name ?? (tenantId ? "" : "No organization");
  const logo = org.tenant?.settings.logo_url;
  const links = Object.entries(PAGES).filter(([, page]) => page.nav && (!page.operator || operator) && (!page.needsTenant || tenantId));

  return (
    <div class="shell" onClick={onLinkClick}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a href="/" class="org">
          {logo ? (
            <img class="logo" src={logo} alt="" referrerpolicy="no-referrer" onError={(e) => ((e.target as HTMLImageElement).hidden = true)} />
          ) : (
            <span class="brand-mark" aria-hidden="true">
              {(name || "T").slice(0, 1).toUpperCase()}
            </span>
          )}
          <span class="org-name">{name}</span>
        </a>
        <OrgSwitcher />
        <button type="button" class="menu-button" aria-expanded={menuOpen} aria-controls="nav" onClick={() => setMenuOpen(!menuOpen)}>
          Menu
        </button>
        <div class="person">
          <a href="/profile" class="who">
            {claims?.email}
          </a>
          <SignOutButton />
        </div>
      </header>
      <div class="body">
        <nav id="nav" class={menuOpen ? "open" : ""} aria-label="Main">
          <ul>
            {links.map(([href, page]) => (
              <li key={href}>
                <a href={href} aria-current={href === path ? "page" : undefined}>
                  {page.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <main id="main">
          <Banner />
          {entry.needsTenant && !tenantId ? (
            <Alert kind="info">
              You are not working in an organization now. <a href="/organizations">Create one or accept an invitation</a>.
            </Alert>
          ) : Page ? (
            <Page />
          ) : (
            <p class="muted">Loading…</p>
          )}
        </main>
      </div>
    </div>
  );
}

/** Why the organization cannot be used now, in the API's words. */
function Banner() {
  const org = useStore(organization);
  const blocked = org.blocked;
  if (!blocked) return null;
  if (blocked.code === "mfa-required") {
    // The profile page says the same, next to the set-up itself.
    if (location.pathname === "/profile") return null;
    return (
      <Alert kind="warning">
        {blocked.message} <a href="/profile">Set up two-step verification</a>.
      </Alert>
    );
  }
  if (blocked.code === "tenant-provisioning") {
    return (
      <Alert kind="info">
        <span class="spinner" aria-hidden="true" /> {blocked.message}
      </Alert>
    );
  }
  return (
    <Alert kind="warning">
      <strong>This organization cannot be used now.</strong> {blocked.message}
    </Alert>
  );
}
