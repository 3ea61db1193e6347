// A list read a page at a time: the first page from useLoad, then the pages "Load more" appends,
// and the changes made on the page itself (an item added, changed or removed) kept on top of them
// until the first page is read again.
import { useRef, useState } from "preact/hooks";
import { Alert, messageOf, useLoad } from "./kit";

/** A page as the API gives it. */
export interface ListPage<T> {
  items: T[];
  next_cursor: string | null;
}

type Edit<T> = (items: T[], next: string | null) => { items: T[]; next: string | null };

export interface PagedList<T> {
  /** The first page's load: what LoadState shows until `items` is there. */
  state: ReturnType<typeof useLoad<ListPage<T>>>;
  items: T[] | null;
  next: string | null;
  /** The last "Load more": on its way, or what went wrong. */
  more: { busy: boolean; error: unknown };
  loadMore: () => Promise<void>;
  /** Any change to the items (and the cursor) read so far. */
  change: (edit: Edit<T>) => void;
  /** A changed item in place; a new one where `insert` puts it (first, unless told otherwise). */
  put: (item: T) => void;
  remove: (key: string) => void;
}

export function usePagedList<T>(
  read: (cursor?: string) => Promise<ListPage<T>>,
  options: {
    /** What tells two items apart (a row read twice, once on each page, is kept once). */
    key: (item: T) => string;
    /** Where a new item goes among those read so far. */
    insert?: (items: T[], item: T, next: string | null) => T[];
  },
): PagedList<T> {
  const { key, insert = (items, item) => [item, ...items] } = options;
  const first = useLoad(() => read(), []);
  const base = first.data;
  const baseRef = useRef(base);
  baseRef.current = base;
  // The changes made here, valid as long as the first page they were made on is the latest.
  const [local, setLocal] = useState<{ base: ListPage<T>; items: T[]; next: string | null } | null>(null);
  const current = local && local.base === base ? local : base ? { base, items: base.items, next: base.next_cursor } : null;
  const [more, setMore] = useState<{ busy: boolean; error: unknown }>({ busy: false, error: null });

  const change = (edit: Edit<T>) => {
    // A change made before the first page arrived: that page may have been read before it, so
    // it is read again rather than shown without the change.
    if (!baseRef.current) {
      first.reload();
      return;
    }
    setLocal((prev) => {
      const from = baseRef.current;
      if (!from) return prev;
      const now = prev && prev.base === from ? prev : { base: from, items: from.items, next: from.next_cursor };
      return { base: from, ...edit(now.items, now.next) };
    });
  };

  const loadMore = async () => {
    if (!current?.next) return;
    setMore({ busy: true, error: null });
    try {
      const page = await read(current.next);
      change((items) => {
        const known = new Set(items.map(key));
        return { items: [...items, ...page.items.filter((item) => !known.has(key(item)))], next: page.next_cursor };
      });
      setMore({ busy: false, error: null });
    } catch (error) {
      setMore({ busy: false, error });
    }
  };

  return {
    state: first,
    items: current?.items ?? null,
    next: current?.next ?? null,
    more,
    loadMore,
    change,
    put: (item) =>
      change((items, next) => ({
        items: items.some((other) => key(other) === key(item))
          ? items.map((other) => (key(other) === key(item) ? item : other))
          : insert(items, item, next),
        next,
      })),
    remove: (gone) => change((items, next) => ({ items: items.filter((item) => key(item) !== gone), next })),
  };
}

/** Below a paged list: why the last "Load more" failed, and the button while there is more. */
export function LoadMore({ list }: { list: Pick<PagedList<unknown>, "more" | "next" | "loadMore"> }) {
  return (
    <>
      {list.more.error !== null && <Alert>{messageOf(list.more.error)}</Alert>}
      {list.next !== null && (
        <div class="actions">
          <button type="button" class="secondary" disabled={list.more.busy} onClick={list.loadMore}>
            {list.more.busy ? "Loading…" : "Load more"}
          </button>
        </div>
      )}
    </>
  );
}
