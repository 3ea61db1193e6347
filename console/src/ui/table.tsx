// Table cells that carry their column's name, so a narrow screen can show each row as a stacked
// card ("Price 12,50 €") instead of a table wider than the screen (see "Tables on narrow screens"
// in styles.css). The name is a hidden span, shown only at narrow widths; it is aria-hidden so a
// cell's accessible name stays its value (screen readers get the column from the table's <th>).
import type { ComponentChildren, JSX } from "preact";

type CellProps = Omit<JSX.TdHTMLAttributes<HTMLTableCellElement>, "label"> & {
  /** The column header's text; leave it out for a column with nothing to name (the row's actions). */
  label?: string;
  children?: ComponentChildren;
};

/** A data cell: `<td>` with its column's name before the value on narrow screens. */
export function Cell({ label, children, ...rest }: CellProps) {
  return (
    <td data-label={label} {...rest}>
      {label && (
        <span class="cell-label" aria-hidden="true">
          {label}
        </span>
      )}
      {children}
    </td>
  );
}

type RowHeaderProps = Omit<JSX.ThHTMLAttributes<HTMLTableCellElement>, "label" | "scope"> & {
  label?: string;
  children?: ComponentChildren;
};

/** A row's header cell (`<th scope="row">`), labelled like `Cell`. */
export function RowHeader({ label, children, ...rest }: RowHeaderProps) {
  return (
    <th scope="row" data-label={label} {...rest}>
      {label && (
        <span class="cell-label" aria-hidden="true">
          {label}
        </span>
      )}
      {children}
    </th>
  );
}

/** A column: its header's text, and whether it holds amounts (aligned right) or is named for screen readers only. */
export type Column = string | { name: string; num?: boolean; hidden?: boolean };

/** The column of a row's buttons: named, but only for screen readers. */
export const ACTIONS: Column = { name: "Actions", hidden: true };

/** A table in its scrolling wrapper, with its header row; `false` leaves a column out. */
export function Table({ columns, class: className, children }: { columns: (Column | false)[]; class?: string; children?: ComponentChildren }) {
  return (
    <div class="table-wrap">
      <table class={className}>
        <thead>
          <tr>
            {columns.map((column) => {
              if (column === false) return null;
              const { name, num, hidden } = typeof column === "string" ? { name: column } : column;
              return (
                <th key={name} scope="col" class={num ? "num" : undefined}>
                  {hidden ? <span class="visually-hidden">{name}</span> : name}
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
