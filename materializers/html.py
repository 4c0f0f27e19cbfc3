"""Small, dependency-free HTML rendering for report visualizations in the ZenML dashboard.

The dashboard shows HTML visualizations in a sandboxed iframe, so each page is self-contained:
inline CSS, no scripts, every value escaped.
"""

from __future__ import annotations

import html
from typing import Iterable, Mapping, Optional, Sequence

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:16px;color:#1f2933}
h1{font-size:18px;margin:0 0 4px} p.summary{margin:4px 0 12px;color:#52606d}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border:1px solid #d9e2ec;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f0f4f8} tr.fail td{background:#ffe3e3} tr.warn td{background:#fff3c4}
tr.pass td.outcome{color:#0b7a3e;font-weight:600} tr.fail td.outcome{color:#b42318;font-weight:600}
code{font-size:12px}
"""


def escape(value: object) -> str:
    return html.escape("" if value is None else str(value))


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], row_classes: Optional[Iterable[str]] = None,
          cell_classes: Optional[Mapping[int, str]] = None) -> str:
    """An HTML table; ``row_classes`` colours rows, ``cell_classes`` tags columns by index."""
    cell_classes = cell_classes or {}
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    classes = iter(row_classes) if row_classes is not None else None
    for row in rows:
        css = f' class="{escape(next(classes))}"' if classes is not None else ""
        cells = "".join(
            f'<td class="{cell_classes[i]}">{escape(v)}</td>' if i in cell_classes else f"<td>{escape(v)}</td>"
            for i, v in enumerate(row)
        )
        body.append(f"<tr{css}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def page(title: str, summary: str, body: str) -> str:
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>"
        f"<p class='summary'>{escape(summary)}</p>{body}</body></html>"
    )
