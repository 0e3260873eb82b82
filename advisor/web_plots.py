"""The web page's charts, as plotly figures: the four options' scores, and cost against monthly volume with the
break-even marked."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from advisor.web_render import OPTION_NAMES

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["cost_figure", "scores_figure"]

_PICKED = "#2563eb"
_ELIGIBLE = "#94a3b8"
_RULED_OUT = "#e2e8f0"


def scores_figure(scores: Mapping[str, Any] | None, *, title: str = "Scores of the four options (0–100)"
                  ) -> go.Figure:
    """Horizontal bars of the scorer's ranking, best on top; the recommendation stands out, ruled-out options are
    pale and say so. An empty figure when there is nothing scored yet."""
    import plotly.graph_objects as go

    figure = go.Figure()
    ranking = list((scores or {}).get("ranking") or [])
    if ranking:
        picked = (scores or {}).get("recommended")
        rows = list(reversed(ranking))  # plotly draws the first bar at the bottom
        figure.add_trace(go.Bar(
            x=[r["score"] for r in rows], y=[OPTION_NAMES.get(r["option"], r["option"]) for r in rows],
            orientation="h", customdata=[r["option"] for r in rows],
            marker_color=[_PICKED if r["option"] == picked else _ELIGIBLE if r["eligible"] else _RULED_OUT
                          for r in rows],
            text=[f"{r['score']:.0f}" + ("" if r["eligible"] else " · ruled out") for r in rows],
            textposition="auto", hovertemplate="%{y}: %{x:.1f}<extra></extra>"))
    else:  # nothing scored yet: say so instead of drawing empty axes
        figure.add_annotation(text="No verdict yet", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                              font={"size": 14, "color": _ELIGIBLE})
    figure.update_layout(title=title, height=260, margin={"l": 10, "r": 10, "t": 40, "b": 30}, showlegend=False,
                         template="plotly_white",
                         xaxis={"range": [0, 100], "title": "score", "visible": bool(ranking)},
                         yaxis={"visible": bool(ranking)})
    return figure


def cost_figure(series: Mapping[str, Any], *, break_even_tokens: float | None, volume: float) -> go.Figure:
    """Monthly cost of the API model and of self-hosting against monthly tokens (log axes), with the break-even
    volume and the chosen volume marked."""
    import plotly.graph_objects as go

    points = series["points"]
    x = [p["monthly_tokens"] for p in points]
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=x, y=[p["api_usd"] for p in points], mode="lines",
                                name=f"API: {series['api_model']}", line={"color": "#ea580c", "width": 3}))
    figure.add_trace(go.Scatter(x=x, y=[p["self_host_usd"] for p in points], mode="lines", line_shape="hv",
                                name=f"Self-host: {series['open_model']} on {series['gpu'].upper()}",
                                line={"color": _PICKED, "width": 3},
                                customdata=[p["self_host_gpus"] for p in points],
                                hovertemplate="%{x:.3s} tokens: $%{y:,.0f} (%{customdata} GPUs)<extra></extra>"))
    # On a log axis plotly places annotations in log10 units (lines take data units), hence the two calls.
    if break_even_tokens is not None:
        figure.add_vline(x=break_even_tokens, line_dash="dash", line_color="#16a34a", name="break-even")
        figure.add_annotation(x=math.log10(break_even_tokens), y=1, yref="paper", xanchor="right", showarrow=False,
                              text=f"break-even {break_even_tokens:.3g} tokens/month", font={"color": "#16a34a"})
    figure.add_vline(x=volume, line_dash="dot", line_color="#475569", name="your volume")
    figure.add_annotation(x=math.log10(volume), y=0, yref="paper", xanchor="left", yanchor="bottom",
                          showarrow=False, text="your volume", font={"color": "#475569"})
    figure.update_layout(title="Monthly cost against monthly volume", height=420, template="plotly_white",
                         xaxis={"type": "log", "title": "tokens a month (input + output)"},
                         yaxis={"type": "log", "title": "USD a month"},
                         legend={"orientation": "h", "y": -0.25}, margin={"l": 10, "r": 10, "t": 50, "b": 10})
    figure.update_yaxes(tickformat="$.2s")
    return figure
