"""The Models tab: the catalog as a filterable, sortable table (the same query as `advisor models`), each row with
its sources and as-of date, facts older than ADVISOR_CATALOG_STALE_DAYS marked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gradio as gr

if TYPE_CHECKING:
    from advisor.catalog_query import QueryResult
    from advisor.config import Settings

__all__ = ["COLUMNS", "ModelsTab", "build_models"]

ANY = "any"
COLUMNS = ["id", "name", "vendor", "kind", "open weights", "licence", "commercial use", "context", "params (B)",
           "$/1M in", "$/1M out", "min GPU GB", "fits: needs GB", "as of", "stale", "sources"]
_WIDTHS: list[str | int] = ["150px", "170px", "100px", "90px", "70px", "110px", "80px", "90px", "70px", "70px",
                            "70px", "80px", "80px", "100px", "110px", "120px"]
_SORTS = {"name": "name", "release date": "release", "context": "context", "parameters": "params",
          "blended price": "price_blended", "input price": "price_in", "output price": "price_out"}


def _yes_no(value: bool | None) -> str:
    return "?" if value is None else "yes" if value else "no"


def _row(hit: Any) -> list[Any]:
    m = hit.model
    links = " ".join(f"[{i}]({url})" if str(url).startswith("http") else str(url)
                     for i, url in enumerate(hit.sources, start=1))
    stale = f"⚠️ {hit.age_days} days old" if hit.possibly_stale else ""  # the reason is in the count line
    return [m.id, m.name, m.vendor, m.kind, _yes_no(m.open_weights), m.license, _yes_no(m.commercial_use),
            m.context_tokens, m.params_total_b, m.price.input_per_mtok if m.price else None,
            m.price.output_per_mtok if m.price else None,
            m.min_hardware.gpu_memory_gb if m.min_hardware else None, hit.required_gb,
            hit.price_date or hit.as_of, stale, links]


@dataclass
class ModelsTab:
    """The filters, in the order query() takes them, and the table."""

    settings: Settings
    inputs: list[Any]
    table: gr.Dataframe
    count: gr.Markdown

    def query(self, text: str, open_only: bool, commercial_only: bool, kind: str, licence: str,
              min_context: float | None, fits_gb: float | None, precision: str, sort: str, descending: bool
              ) -> tuple[Any, ...]:
        """Run the catalog query for the filters; a bad filter is a one-line message, the table is kept."""
        from advisor.catalog import CatalogError, load_catalog
        from advisor.catalog_query import CatalogQueryError, parse_query, query_catalog

        criteria: dict[str, Any] = {
            "text": (text or "").strip() or None, "open_weights": True if open_only else None,
            "commercial_use": True if commercial_only else None, "kind": None if kind == ANY else kind,
            "license": None if licence == ANY else licence,
            "min_context": int(min_context) if min_context else None,
            "fits_gb": fits_gb or None, "precision": precision if fits_gb else None,
            "sort_by": _SORTS.get(sort), "descending": bool(descending) and sort in _SORTS,
        }
        try:
            result = query_catalog(load_catalog(self.settings.catalog_path),
                                   parse_query({k: v for k, v in criteria.items() if v is not None}),
                                   stale_after_days=self.settings.catalog_stale_days)
        except (CatalogError, CatalogQueryError) as exc:
            return gr.skip(), f"⚠️ {exc}"
        return [_row(hit) for hit in result.hits], _count(result)


def _count(result: QueryResult) -> str:
    stale = sum(1 for h in result.hits if h.possibly_stale)
    note = (f"; ⚠️ {stale} with facts older than {result.stale_after_days} days (possibly stale)" if stale else "")
    return f"{result.count} models{note}. Sources and the date of each row's facts are in the last columns."


def build_models(settings: Settings) -> ModelsTab:
    """Lay out the Models tab (inside an open gr.Tab); every filter re-runs the query."""
    from advisor.catalog import load_catalog

    licences = sorted({m.license for m in load_catalog(settings.catalog_path).models})
    with gr.Row():
        text = gr.Textbox(label="Search", placeholder="name, vendor or strength", elem_id="models-text", scale=3,
                          max_lines=1)
        kind = gr.Dropdown([ANY, "api", "open_weight", "small"], value=ANY, label="Kind", elem_id="models-kind")
        licence = gr.Dropdown([ANY, *licences], value=ANY, label="Licence", elem_id="models-licence")
        sort = gr.Dropdown(["(catalog order)", *_SORTS], value="(catalog order)", label="Sort by",
                           elem_id="models-sort")
        descending = gr.Checkbox(label="Descending", elem_id="models-descending")
    with gr.Row():
        open_only = gr.Checkbox(label="Open weights only", elem_id="models-open")
        commercial = gr.Checkbox(label="Commercial use allowed", elem_id="models-commercial")
        min_context = gr.Number(None, label="Min context (tokens)", elem_id="models-context", minimum=0,
                                placeholder="any")
        fits = gr.Number(None, label="Fits in GB (weights + 20%)", elem_id="models-fits", minimum=0,
                         placeholder="any")
        precision = gr.Dropdown(["bf16", "fp8", "int4"], value="bf16", label="at precision",
                                elem_id="models-precision")
    count = gr.Markdown(elem_id="models-count")
    table = gr.Dataframe(headers=COLUMNS, elem_id="models-table", interactive=False, wrap=True,
                         datatype=[*(["str"] * (len(COLUMNS) - 1)), "markdown"],  # type: ignore[list-item]
                         max_height=640, column_widths=_WIDTHS,
                         show_search="search", pinned_columns=1)
    inputs = [text, open_only, commercial, kind, licence, min_context, fits, precision, sort, descending]
    tab = ModelsTab(settings, inputs, table, count)
    for choice in (open_only, commercial, kind, licence, precision, sort, descending):
        choice.change(tab.query, inputs, [table, count], concurrency_limit=None)
    for typed in (text, min_context, fits):
        typed.submit(tab.query, inputs, [table, count], concurrency_limit=None)
        typed.blur(tab.query, inputs, [table, count], concurrency_limit=None)
    return tab
