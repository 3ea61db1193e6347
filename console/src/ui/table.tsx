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
