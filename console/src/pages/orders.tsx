// Orders: placed from the organization's own products (the service copies their names and
// prices and computes the totals), then moved along their statuses. Each move is made from
// the version the row shows, so a move someone else made meanwhile is never overridden.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, type Schemas } from "../api";
import { formatDate, formatMoney } from "../format";
import { organization } from "../org";
import { useStore } from "../store";
import { Alert, Field, LoadState, PageTitle, Select, messageOf, useLoad } from "../ui/kit";
import { LoadMore, usePagedList } from "../ui/list";
import { NewButton, ReadOnlyAlert } from "../ui/read-only";
import { ProblemRow, isStale, useRowChange } from "../ui/stale";
import { ACTIONS, Cell, Table } from "../ui/table";

type Order = Schemas["Order"];
type OrderStatus = Schemas["OrderStatus"];
type Product = Schemas["Product"];

const MAX_LINES = 50;
/** How many pages of 100 products the order form reads for its product lists. */
const PRODUCT_PAGES = 5;

/** The moves the API allows from each status, with their buttons' texts. */
const MOVES: Record<OrderStatus, { to: OrderStatus; label: string }[]> = {
  pending: [
    { to: "paid", label: "Mark paid" },
    { to: "cancelled", label: "Cancel order" },
  ],
  paid: [
    { to: "shipped", label: "Mark shipped" },
    { to: "cancelled", label: "Cancel order" },
  ],
  shipped: [{ to: "delivered", label: "Mark delivered" }],
  delivered: [],
  cancelled: [],
};

const BADGE: Record<OrderStatus, string> = {
  pending: "badge warn",
  paid: "badge ok",
  shipped: "badge ok",
  delivered: "badge ok",
  cancelled: "badge",
};

/** The end of the id: ULIDs begin with the time, so their last characters tell orders apart. */
function shortId(id: string): string {
  return id.slice(-6);
}

export default function OrdersPage() {
  const org = useStore(organization);
  const readOnly = org.tenant?.read_only === true;
  const list = usePagedList(async (cursor) => (await api.get("/orders", { query: { limit: 20, cursor } })).data, {
    key: (order) => order.id,
  });
  const [creating, setCreating] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);

  return (
    <>
      <PageTitle>Orders</PageTitle>
      {readOnly && <ReadOnlyAlert what="orders cannot be placed or moved" />}
      {notice && <Alert kind="success">{notice}</Alert>}
      {creating ? (
        <OrderForm
          readOnly={readOnly}
          onCancel={() => setCreating(false)}
          onPlaced={(order) => {
            list.put(order);
            setCreating(false);
            setNotice(`Order ${shortId(order.id)} was placed: ${formatMoney(order.total, order.currency)}.`);
          }}
        />
      ) : (
        <NewButton
          readOnly={readOnly}
          onClick={() => {
            setNotice(null);
            setCreating(true);
          }}
        >
          New order
        </NewButton>
      )}
      {list.items === null ? (
        <LoadState state={list.state} />
      ) : list.items.length === 0 ? (
        <p class="muted">No orders yet.</p>
      ) : (
        <>
          <Table columns={["Order", "Status", { name: "Total", num: true }, "Created", ACTIONS]}>
            {list.items.map((order) => (
              <OrderRow key={order.id} order={order} readOnly={readOnly} onChanged={list.put} />
            ))}
          </Table>
          <LoadMore list={list} />
        </>
      )}
    </>
  );
}

function OrderRow({ order, readOnly, onChanged }: { order: Order; readOnly: boolean; onChanged: (order: Order) => void }) {
  const { busy, setBusy, error, setError, reload } = useRowChange(
    async () => (await api.get("/orders/{orderId}", { path: { orderId: order.id } })).data,
    onChanged,
  );
  const short = shortId(order.id);
  const lines = order.lines.map((line) => `${line.quantity} × ${line.name}`).join(", ");

  const move = async (to: OrderStatus) => {
    setBusy(true);
    setError(null);
    try {
      // The version this row shows: if the order moved since, the API refuses and we say so.
      const { data } = await api.patch("/orders/{orderId}", {
        path: { orderId: order.id },
        body: { status: to, version: order.version },
      });
      onChanged(data);
    } catch (err) {
      setError(err);
    }
    setBusy(false);
  };

  return (
    <>
      <tr>
        <Cell label="Order">
          <span class="mono" title={order.id}>
            {short}
          </span>
          <div class="muted small">{lines}</div>
        </Cell>
        <Cell label="Status">
          <span class={BADGE[order.status]}>{order.status}</span>
        </Cell>
        <Cell label="Total" class="num">
          {formatMoney(order.total, order.currency)}
        </Cell>
        <Cell label="Created">{formatDate(order.created_at)}</Cell>
        <Cell>
          <div class="row-actions">
            {MOVES[order.status].map((next) => (
              <button
                key={next.to}
                type="button"
                class={next.to === "cancelled" ? "secondary" : undefined}
                aria-label={`${next.label} order ${short}`}
                disabled={busy || readOnly}
                onClick={() => move(next.to)}
              >
                {next.label}
              </button>
            ))}
          </div>
        </Cell>
      </tr>
      {/* The row offers only the moves allowed from the status it shows, so a refused move
          (`invalid-transition`, which the API checks before the version) also means the order moved. */}
      {error !== null && (
        <ProblemRow columns={5} error={error} stale={isStale(error, "invalid-transition")} onReload={reload} disabled={busy} />
      )}
    </>
  );
}

interface Line {
  key: number;
  productId: string;
  quantity: string;
}

/** The organization's products that can be ordered, from a few pages of the catalogue. */
async function readProducts(): Promise<Product[]> {
  const found: Product[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < PRODUCT_PAGES; page++) {
    const { data } = await api.get("/products", { query: { limit: 100, cursor } });
    found.push(...data.items);
    if (!data.next_cursor) break;
    cursor = data.next_cursor;
  }
  return found.filter((product) => product.active).sort((a, b) => a.name.localeCompare(b.name));
}

function OrderForm({ readOnly, onCancel, onPlaced }: { readOnly: boolean; onCancel: () => void; onPlaced: (order: Order) => void }) {
  const products = useLoad(readProducts, []);
  const nextKey = useRef(1);
  const [lines, setLines] = useState<Line[]>([{ key: 0, productId: "", quantity: "1" }]);
  const [errors, setErrors] = useState<Record<number, { product?: string; quantity?: string }>>({});
  const [problem, setProblem] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    heading.current?.focus();
  }, []);

  const byId = new Map((products.data ?? []).map((product) => [product.id, product]));
  const update = (key: number, change: Partial<Line>) => {
    setLines((all) => all.map((line) => (line.key === key ? { ...line, ...change } : line)));
    setErrors((all) => ({ ...all, [key]: {} }));
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    const found: Record<number, { product?: string; quantity?: string }> = {};
    const seen = new Map<string, number>();
    lines.forEach((line, index) => {
      const mine: { product?: string; quantity?: string } = {};
      if (!line.productId) mine.product = "Choose a product.";
      else if (seen.has(line.productId)) mine.product = `This product is already on line ${seen.get(line.productId)}.`;
      else seen.set(line.productId, index + 1);
      const quantity = Number(line.quantity);
      if (!/^\d+$/.test(line.quantity.trim()) || quantity < 1 || quantity > 10000) mine.quantity = "Enter a whole number from 1 to 10000.";
      if (mine.product || mine.quantity) found[line.key] = mine;
    });
    setErrors(found);
    setProblem(null);
    if (Object.keys(found).length > 0) return;
    setBusy(true);
    try {
      const { data } = await api.post("/orders", {
        body: { lines: lines.map((line) => ({ product_id: line.productId, quantity: Number(line.quantity) })) },
      });
      onPlaced(data);
    } catch (err) {
      // The API's problems name `lines`, `product_id` or `quantity` without saying which line.
      setProblem(err);
      setBusy(false);
    }
  };

  // What the order will cost at today's prices, when its products share one currency.
  const chosen = lines.map((line) => ({ product: byId.get(line.productId), quantity: Number(line.quantity) }));
  const currencies = new Set(chosen.flatMap((c) => (c.product ? [c.product.currency] : [])));
  const estimate =
    currencies.size === 1 && chosen.every((c) => c.product && Number.isInteger(c.quantity) && c.quantity > 0)
      ? chosen.reduce((sum, c) => sum + (c.product?.price ?? 0) * c.quantity, 0)
      : null;
  const options = [{ value: "", label: "Choose a product" }, ...(products.data ?? []).map((p) => ({ value: p.id, label: p.name }))];
  const disabled = readOnly || busy;

  return (
    <form class="card page-form" onSubmit={submit} noValidate aria-busy={busy}>
      <h2 tabIndex={-1} ref={heading}>
        New order
      </h2>
      {problem !== null && <Alert>{messageOf(problem)}</Alert>}
      {products.data === null ? (
        <LoadState state={products} />
      ) : products.data.length === 0 ? (
        <Alert kind="info">
          There are no products to order yet. <a href="/products">Add a product</a> first.
        </Alert>
      ) : (
        <>
          {currencies.size > 1 && (
            <Alert kind="warning">These products are priced in different currencies: an order takes one currency only.</Alert>
          )}
          {lines.map((line, index) => {
            const product = byId.get(line.productId);
            return (
              <fieldset class="order-line" key={line.key}>
                <legend>Line {index + 1}</legend>
                <div class="form-grid">
                  <Select
                    label="Product"
                    value={line.productId}
                    onValue={(productId) => update(line.key, { productId })}
                    options={options}
                    error={errors[line.key]?.product}
                    disabled={disabled}
                  />
                  <Field
                    label="Quantity"
                    type="number"
                    min={1}
                    max={10000}
                    step={1}
                    inputMode="numeric"
                    required
                    value={line.quantity}
                    onValue={(quantity) => update(line.key, { quantity })}
                    error={errors[line.key]?.quantity}
                    hint={product ? `${formatMoney(product.price, product.currency)} each` : undefined}
                    disabled={disabled}
                  />
                </div>
                {/* An order keeps at least one line. */}
                <button
                  type="button"
                  class="secondary"
                  aria-label={`Remove line ${index + 1}`}
                  disabled={disabled || lines.length === 1}
                  onClick={() => setLines((all) => all.filter((other) => other.key !== line.key))}
                >
                  Remove line
                </button>
              </fieldset>
            );
          })}
          <div class="actions">
            <button
              type="button"
              class="secondary"
              disabled={disabled || lines.length >= MAX_LINES}
              onClick={() => setLines((all) => [...all, { key: nextKey.current++, productId: "", quantity: "1" }])}
            >
              Add a line
            </button>
          </div>
          {estimate !== null && (
            <p>
              Total at today's prices: <strong>{formatMoney(estimate, [...currencies][0])}</strong>
            </p>
          )}
        </>
      )}
      <div class="actions">
        <button type="submit" disabled={disabled || !products.data?.length}>
          Create order
        </button>
        <button type="button" class="secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
