// Paths in the address bar (the server answers index.html for any of them), without a library.
import { useEffect, useState } from "preact/hooks";

const listeners = new Set<() => void>();

export function navigate(to: string, replace = false): void {
  if (to === location.pathname + location.search) return;
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  for (const listener of [...listeners]) listener();
}

addEventListener("popstate", () => {
  for (const listener of [...listeners]) listener();
});

export interface Location {
  path: string;
  query: URLSearchParams;
}

export function useLocation(): Location {
  const read = () => ({ path: location.pathname, query: new URLSearchParams(location.search) });
  const [current, setCurrent] = useState(read);
  useEffect(() => {
    const listener = () => setCurrent(read());
    listeners.add(listener);
    return () => listeners.delete(listener);
  }, []);
  return current;
}

/** Follows a click on a same-origin link without reloading the page. */
export function onLinkClick(event: MouseEvent): void {
  const anchor = (event.target as Element | null)?.closest?.("a");
  if (!anchor || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  if (anchor.target || anchor.origin !== location.origin || anchor.hasAttribute("download")) return;
  event.preventDefault();
  navigate(anchor.pathname + anchor.search);
}
