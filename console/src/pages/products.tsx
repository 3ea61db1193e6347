// Products: the organization's catalogue. Anyone in the organization adds and edits products;
// only admins delete them. An edit is made from the version read when the form opened, so a
// change someone else saved meanwhile is never overwritten silently.
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, api, type Schemas } from "../api";
import { session } from "../auth";
import { formatDate, formatMoney } from "../format";
import { organization } from "../org";
import { useStore } from "../store";
import { ConfirmButton } from "../ui/confirm";
import { Alert, Field, FieldFrame, LoadState, PageTitle, Select, fieldOf, messageOf } from "../ui/kit";
import { LoadMore, usePagedList } from "../ui/list";
import { NewButton, ReadOnlyAlert } from "../ui/read-only";
import { ProblemAlert, ProblemRow, isStale, useRowChange } from "../ui/stale";
import { ACTIONS, Cell, Table } from "../ui/table";
import { fractionDigits, toDecimal, toMinor } from "../money";

type Product = Schemas["Product"];

const CURRENCIES = ["EUR", "USD", "GBP", "CHF", "JPY", "CAD", "AUD"];
export default function ProductsPage() {
  const me = useStore(session);
  const org = useStore(organization);
  const admin = me?.claims.tenant_role === "admin";
  const readOnly = org.tenant?.read_only === true;
  const list = usePagedList(async (cursor) => (await api.get("/products", { query: { limit: 20, cursor } })).data, {
    key: (product) => product.id,
  });
  // The form: closed, a new product, or the product being edited (by id).
  const [form, setForm] = useState<{ mode: "new" } | { mode: "edit"; id: string } | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  return (
    <>
      <PageTitle>Products</PageTitle>
      {readOnly && <ReadOnlyAlert what="its products cannot be added or changed" />}
      {notice && <Alert kind="success">{notice}</Alert>}
      {!form && (
        <NewButton
          readOnly={readOnly}
          onClick={() => {
            setNotice(null);
            setForm({ mode: "new" });
          }}
        >
          New product
        </NewButton>
      )}
      {form && (
        <ProductForm
          key={form.mode === "edit" ? form.id : "new"}
          editId={form.mode === "edit" ? form.id : null}
          readOnly={readOnly}
          onCancel={() => setForm(null)}
          onSaved={(product, created) => {
            list.put(product);
            setForm(null);
            setNotice(created ? `${product.name} was added.` : `Your changes to ${product.name} were saved.`);
          }}
        />
      )}
      <h2 class="visually-hidden">Catalogue</h2>
      {list.items === null ? (
        <LoadState state={list.state} />
      ) : list.items.length === 0 ? (
        <p class="muted">No products yet. Add your first one with New product.</p>
      ) : (
        <>
          <Table columns={["Name", "SKU", { name: "Price", num: true }, "Updated", ACTIONS]}>
            {list.items.map((product) => (
              <ProductRow
                key={product.id}
                product={product}
                admin={admin}
                readOnly={readOnly}
                onEdit={() => {
                  setNotice(null);
                  setForm({ mode: "edit", id: product.id });
                }}
                onDeleted={() => {
                  list.remove(product.id);
                  if (form?.mode === "edit" && form.id === product.id) setForm(null);
                  setNotice(`${product.name} was deleted.`);
                }}
                onReloaded={list.put}
              />
            ))}
          </Table>
          <LoadMore list={list} />
        </>
      )}
    </>
  );
}

function ProductRow({
  product,
  admin,
  readOnly,
  onEdit,
  onDeleted,
  onReloaded,
}: {
  product: Product;
  admin: boolean;
  readOnly: boolean;
  onEdit: () => void;
  onDeleted: () => void;
  onReloaded: (product: Product) => void;
}) {
  const [confirming, setConfirming] = useState(false);
  const { busy, setBusy, error, setError, reload } = useRowChange(
    async () => (await api.get("/products/{productId}", { path: { productId: product.id } })).data,
    (latest) => {
      onReloaded(latest);
      setConfirming(false);
    },
  );

  const remove = async () => {
    setBusy(true);
    setError(null);
    try {
      // Only the version this row shows: a product changed since is shown again first.
      await api.delete("/products/{productId}", { path: { productId: product.id }, ifMatch: `"${product.version}"` });
      onDeleted();
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) onDeleted();
      else setError(err);
      setBusy(false);
    }
  };

  return (
    <>
      <tr>
        <Cell label="Name">
          {product.name}
          {!product.active && (
            <>
              {" "}
              <span class="badge">inactive</span>
            </>
          )}
        </Cell>
        <Cell label="SKU">{product.sku}</Cell>
        <Cell label="Price" class="num">
          {formatMoney(product.price, product.currency)}
        </Cell>
        <Cell label="Updated">{formatDate(product.updated_at)}</Cell>
        <Cell>
          <div class="row-actions">
            {!confirming && (
              <button type="button" class="secondary" aria-label={`Edit ${product.name}`} disabled={readOnly || busy} onClick={onEdit}>
                Edit
              </button>
            )}
            {admin && (
              <ConfirmButton
                open={confirming}
                onOpen={() => setConfirming(true)}
                onCancel={() => setConfirming(false)}
                onConfirm={remove}
                label="Delete"
                ariaLabel={`Delete ${product.name}`}
                disabled={busy}
                confirmLabel="Confirm delete"
                confirmAriaLabel={`Confirm delete ${product.name}`}
                busy={busy}
                cancelDisabled={busy}
              />
            )}
          </div>
        </Cell>
      </tr>
      {error !== null && <ProblemRow columns={5} error={error} stale={isStale(error)} onReload={reload} disabled={busy} />}
    </>
  );
}

interface Values {
  name: string;
  sku: string;
  price: string;
  currency: string;
  description: string;
}

const EMPTY: Values = { name: "", sku: "", price: "", currency: "EUR", description: "" };

type FieldName = keyof Values;

/** The form's field for a field the API names. */
function formField(apiField: string | null): FieldName | null {
  const name = (apiField ?? "").replace(/^\/+/, "").split(/[./]/)[0];
  return name === "name" || name === "sku" || name === "price" || name === "currency" || name === "description" ? name : null;
}

function ProductForm({
  editId,
  readOnly,
  onCancel,
  onSaved,
}: {
  editId: string | null;
  readOnly: boolean;
  onCancel: () => void;
  onSaved: (product: Product, created: boolean) => void;
}) {
  const [values, setValues] = useState<Values>(EMPTY);
  // The product as read (its `active` flag is kept) and the version the change is made from.
  const [base, setBase] = useState<{ product: Product; etag: string } | null>(null);
  const [loading, setLoading] = useState(editId !== null);
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<Partial<Record<FieldName, string>>>({});
  const [problem, setProblem] = useState<unknown>(null);
  const heading = useRef<HTMLHeadingElement>(null);

  const read = async (id: string) => {
    setLoading(true);
    try {
      const { data, etag } = await api.get("/products/{productId}", { path: { productId: id } });
      setBase({ product: data, etag: etag ?? `"${data.version}"` });
      setValues({
        name: data.name,
        sku: data.sku,
        price: toDecimal(data.price, data.currency),
        currency: data.currency,
        description: data.description,
      });
      setErrors({});
      setProblem(null);
    } catch (err) {
      setProblem(err);
    }
    setLoading(false);
  };

  useEffect(() => {
    if (editId) void read(editId);
    heading.current?.focus();
  }, [editId]);

  const set = (name: FieldName) => (value: string) => {
    setValues((v) => ({ ...v, [name]: value }));
    if (errors[name]) setErrors((e) => ({ ...e, [name]: undefined }));
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    const found: Partial<Record<FieldName, string>> = {};
    if (!values.name.trim()) found.name = "Enter a name.";
    if (!values.sku.trim()) found.sku = "Enter a SKU.";
    const price = toMinor(values.price, values.currency);
    if (typeof price === "string") found.price = price;
    setErrors(found);
    setProblem(null);
    if (Object.keys(found).length > 0 || typeof price === "string") return;
    const body = {
      name: values.name.trim(),
      sku: values.sku.trim(),
      price,
      currency: values.currency,
      description: values.description.trim(),
    };
    setBusy(true);
    try {
      if (editId && base) {
        const { data } = await api.put("/products/{productId}", {
          path: { productId: editId },
          body: { ...body, active: base.product.active },
          ifMatch: base.etag,
        });
        onSaved(data, false);
      } else {
        const { data } = await api.post("/products", { body: { ...body, active: true } });
        onSaved(data, true);
      }
    } catch (err) {
      const field = err instanceof ApiError && err.code === "sku-taken" ? "sku" : formField(fieldOf(err));
      if (field && !isStale(err)) setErrors({ [field]: messageOf(err) });
      else setProblem(err);
      setBusy(false);
    }
  };

  const currencies = CURRENCIES.includes(values.currency) ? CURRENCIES : [values.currency, ...CURRENCIES];
  // An edit needs the version it is made from: nothing is saved until the product was read.
  const disabled = readOnly || busy || loading || (editId !== null && base === null);

  return (
    <form class="card page-form" onSubmit={submit} noValidate aria-busy={loading || busy}>
      <h2 tabIndex={-1} ref={heading}>
        {editId ? `Edit ${base?.product.name ?? "product"}` : "New product"}
      </h2>
      {problem !== null && (
        <ProblemAlert error={problem} stale={isStale(problem) && editId !== null} onReload={() => editId && read(editId)} disabled={loading} />
      )}
      {loading && <p class="muted">Loading…</p>}
      <div class="form-grid">
        <Field label="Name" value={values.name} onValue={set("name")} error={errors.name} required maxLength={200} disabled={disabled} />
        <Field
          label="SKU"
          value={values.sku}
          onValue={set("sku")}
          error={errors.sku}
          required
          maxLength={64}
          autoComplete="off"
          hint="Letters, digits, dots, dashes and underscores; unique in the organization."
          disabled={disabled}
        />
        <Field
          label="Price"
          value={values.price}
          onValue={set("price")}
          error={errors.price}
          required
          inputMode="decimal"
          autoComplete="off"
          hint={fractionDigits(values.currency) === 0 ? "A whole amount, such as 1250." : "An amount such as 12.50."}
          disabled={disabled}
        />
        <Select
          label="Currency"
          value={values.currency}
          onValue={set("currency")}
          options={currencies.map((code) => ({ value: code, label: code }))}
          error={errors.currency}
          disabled={disabled}
        />
      </div>
      <FieldFrame label="Description" error={errors.description} hint="Optional.">
        {(id, describedBy) => (
          <textarea
            id={id}
            rows={3}
            maxLength={2000}
            value={values.description}
            disabled={disabled}
            onInput={(event) => set("description")((event.target as HTMLTextAreaElement).value)}
            aria-invalid={errors.description ? "true" : undefined}
            aria-describedby={describedBy}
          />
        )}
      </FieldFrame>
      <div class="actions">
        <button type="submit" disabled={disabled}>
          {editId ? "Save changes" : "Create product"}
        </button>
        <button type="button" class="secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
