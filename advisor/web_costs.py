"""The Costs tab: an API model against self-hosting an open-weight model (the same cost model as `advisor costs`):
the cost-vs-volume plot with the break-even marked, the totals, and every assumption used, each changeable (the
sizing ones, context and requests at once, as inputs of their own, as the cost model takes them)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gradio as gr

from advisor.web_plots import cost_figure

if TYPE_CHECKING:
    from advisor.config import Settings

__all__ = ["CostsTab", "build_costs"]

NATIVE = "model's native"
DEFAULT_OPEN = "gpt-oss-120b"


def _usd(value: float | None) -> str:
    if value is None:
        return "—"
    return f"${value:,.2f}" if abs(value) < 100 else f"${value:,.0f}"


def _tokens(value: float) -> str:
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if value >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"


@dataclass
class CostsTab:
    """The cost inputs, in the order compute() takes them, and the result components."""

    settings: Settings
    inputs: list[Any]
    plot: gr.Plot
    totals: gr.Markdown
    table: gr.Dataframe
    overrides: gr.State

    def compute(self, volume_text: str, api_model: str, open_model: str, gpu: str, precision: str, years: float,
                context: float | None, concurrency: float | None, overrides: dict[str, float]) -> tuple[Any, ...]:
        """Compare both options at the volume, draw the curves and list the assumptions used."""
        from advisor.catalog import load_catalog
        from advisor.cost_assumptions import load_cost_assumptions
        from advisor.costs import compare, cost_series
        from advisor.profile import parse_quantity

        volume = parse_quantity(volume_text or "")
        skip = gr.skip()
        if volume is None or not math.isfinite(volume) or volume <= 0:
            return skip, f"⚠️ Not a monthly volume: {volume_text!r} (e.g. 500M, 2B or 5e8 tokens).", skip
        costs = load_cost_assumptions(self.settings.costs_path)
        shared: dict[str, Any] = {
            "gpu": gpu or None, "precision": None if precision in ("", NATIVE) else precision,
            # Given only when changed, so the table keeps costs.yaml's own source for an untouched value.
            "context": _changed(context, costs.assumptions.context_tokens.value),
            "concurrency": _changed(concurrency, costs.assumptions.concurrency.value),
            "catalog": load_catalog(self.settings.catalog_path), "assumptions": costs,
            "overrides": dict(overrides or {})}
        try:
            result = compare(api_model, open_model, volume, years=years or None, **shared).as_dict()
            low, high = 1e6, max(1e12, volume * 10)
            series = cost_series(api_model, open_model, start=low, stop=high, **shared).as_dict(assumptions=False)
        except ValueError as exc:  # a bad choice or override: one line naming it
            return skip, f"⚠️ {str(exc).strip().splitlines()[0]}", skip
        even = result["break_even"]
        figure = cost_figure(series, break_even_tokens=even["monthly_tokens"], volume=volume)
        # What the user changed first, then the rest in the order the cost model used them.
        used = sorted(result["assumptions"], key=lambda a: not str(a["source"]).startswith("override"))
        table = [[a["name"], a["value"], a["unit"], a["date"], a["source"]] for a in used]
        return figure, _totals(result), table

    def set_override(self, name: str, value: float | None, overrides: dict[str, float]) -> tuple[Any, ...]:
        """Change one assumption (kept for this page until reset)."""
        from advisor.cost_assumptions import OVERRIDABLE, check_value

        if name not in OVERRIDABLE:
            return gr.skip(), f"⚠️ Pick an assumption to change (one of {len(OVERRIDABLE)})."
        if value is None:
            return gr.skip(), f"⚠️ Give a value for {name}."
        try:
            check_value(name, float(value))
        except ValueError as exc:
            return gr.skip(), f"⚠️ {exc}"
        changed = {**(overrides or {}), name: float(value)}
        return changed, "Changed: " + ", ".join(f"`{k} = {v:g}`" for k, v in sorted(changed.items()))


def _changed(value: float | None, default: float) -> float | int | None:
    """A sizing input as the cost model takes it: None when empty or as in costs.yaml, whole numbers as ints (the
    cost model refuses anything else with a message naming it)."""
    if value is None or value == default:
        return None
    return int(value) if float(value).is_integer() else value


def _totals(data: dict[str, Any]) -> str:
    api, host, even = data["api"], data["self_host"], data["break_even"]
    years = f"{data['years']:g}"
    gpu = host["gpu"].upper()
    rows = [
        f"| at {_tokens(data['monthly_tokens'])} tokens a month | API `{api['model_id']}` | self-host "
        f"`{host['model_id']}` |", "|---|---|---|",
        f"| tokens / GPUs a month | {_usd(api['token_usd'])} | {_usd(host['gpu_usd'])} ({host['gpus']} × {gpu}) |",
        f"| staff a month | {_usd(api['staff_usd'])} | {_usd(host['staff_usd'])} |",
        f"| **monthly total** | **{_usd(api['monthly_usd'])}** | **{_usd(host['monthly_usd'])}** |",
        f"| one-off set-up | {_usd(api['one_off_usd'])} | {_usd(host['one_off_usd'])} |",
        f"| **{years}-year total** | **{_usd(api['total_usd'])}** | **{_usd(host['total_usd'])}** |",
        f"| $ per 1M tokens | {_usd(api['blended_usd_per_mtok'])} | {_usd(host['usd_per_mtok'])} |",
    ]
    cheaper = {"api": "the API", "self_host": "self-hosting"}
    if even["monthly_tokens"] is not None:
        line = (f"**Break-even: {_tokens(even['monthly_tokens'])} tokens a month** ({even['gpus']} × {gpu} at the "
                "crossing); above it self-hosting stays cheaper.")
    else:
        line = f"**Break-even: none.** {even['reason']}."
    return "\n".join([*rows, "", line, "",
                      f"Cheaper at this volume: {cheaper[data['cheaper_monthly']]} per month, "
                      f"{cheaper[data['cheaper_total']]} over {years} years."])


def build_costs(settings: Settings) -> CostsTab:
    """Lay out the Costs tab (inside an open gr.Tab); every input redraws the plot."""
    from advisor.catalog import load_catalog
    from advisor.catalog_query import DEFAULT_API_MODEL, suggested_model
    from advisor.cost_assumptions import OVERRIDABLE, load_cost_assumptions

    catalog = load_catalog(settings.catalog_path)
    costs = load_cost_assumptions(settings.costs_path)
    # Only current priced models can be picked: a retired model's price is history, not an option.
    current = catalog.current()
    api_models = [(f"{m.name} ({m.id})", m.id) for m in current if m.price is not None]
    default_api = suggested_model(catalog, DEFAULT_API_MODEL).id
    open_models = [(f"{m.name} ({m.id})", m.id) for m in current if m.open_weights and m.params_total_b is not None]
    api_ids, open_ids = [v for _, v in api_models], [v for _, v in open_models]
    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            volume = gr.Textbox("500M", label="Tokens a month (input + output)", elem_id="cost-volume",
                                info="e.g. 50M, 2B, 5e8", max_lines=1)
            api = gr.Dropdown(api_models, value=default_api if default_api in api_ids else api_ids[0],
                              label="API model", elem_id="cost-api")
            open_ = gr.Dropdown(open_models, value=DEFAULT_OPEN if DEFAULT_OPEN in open_ids else open_ids[0],
                                label="Open-weight model to self-host", elem_id="cost-open")
            gpu = gr.Dropdown(list(costs.gpus), value=costs.default_gpu, label="GPU", elem_id="cost-gpu")
            precision = gr.Dropdown([NATIVE, "bf16", "fp8", "int4"], value=NATIVE, label="Serving precision",
                                    elem_id="cost-precision")
            years = gr.Number(costs.assumptions.horizon_years.value, label="Years", minimum=0.25, maximum=20,
                              elem_id="cost-years")
            with gr.Row():
                context = gr.Number(costs.assumptions.context_tokens.value, label="Context per request (tokens)",
                                    info="prompt + output, for the KV cache", minimum=1, precision=0,
                                    elem_id="cost-context")
                concurrency = gr.Number(costs.assumptions.concurrency.value, label="Requests at once per replica",
                                        info="sequences each replica serves together", minimum=1, precision=0,
                                        elem_id="cost-concurrency")
            with gr.Accordion("Change an assumption", open=False):
                name = gr.Dropdown(list(OVERRIDABLE), label="Assumption (knowledge/costs.yaml)",
                                   elem_id="cost-override-name")
                value = gr.Number(label="New value", elem_id="cost-override-value")
                with gr.Row():
                    apply = gr.Button("Apply", elem_id="cost-override-apply")
                    reset = gr.Button("Reset all", elem_id="cost-override-reset")
                changed = gr.Markdown("", elem_id="cost-overrides")
        with gr.Column(scale=3):
            plot = gr.Plot(elem_id="cost-plot", show_label=False)
            totals = gr.Markdown(elem_id="cost-totals")
            with gr.Accordion("Assumptions used (value, unit, source date, source)", open=False):
                table = gr.Dataframe(headers=["name", "value", "unit", "date", "source"], elem_id="cost-assumptions",
                                     interactive=False, wrap=True)
    overrides = gr.State({})
    tab = CostsTab(settings, [volume, api, open_, gpu, precision, years, context, concurrency, overrides], plot,
                   totals, table, overrides)
    outputs = [plot, totals, table]
    for component in (api, open_, gpu, precision):
        component.change(tab.compute, tab.inputs, outputs, concurrency_limit=None)
    volume.submit(tab.compute, tab.inputs, outputs, concurrency_limit=None)
    volume.blur(tab.compute, tab.inputs, outputs, concurrency_limit=None)
    for number in (years, context, concurrency):
        number.submit(tab.compute, tab.inputs, outputs, concurrency_limit=None)
        number.blur(tab.compute, tab.inputs, outputs, concurrency_limit=None)
    apply.click(tab.set_override, [name, value, overrides], [overrides, changed], concurrency_limit=None).then(
        tab.compute, tab.inputs, outputs, concurrency_limit=None)
    reset.click(lambda: ({}, "All assumptions as in knowledge/costs.yaml."), None, [overrides, changed],
                concurrency_limit=None).then(tab.compute, tab.inputs, outputs, concurrency_limit=None)
    return tab
