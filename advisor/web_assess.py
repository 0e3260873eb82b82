"""The Assess tab: a form for every Profile field ("not stated" allowed), scored by the same scorer and policy as
`advisor score`, with its JSON output byte for byte; a button carries the profile into the chat in words the
advisor reads back exactly."""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gradio as gr

from advisor.profile import FIELD_ORDER, Profile, ProfileError, parse_profile
from advisor.statements import describe_profile
from advisor.web_plots import scores_figure
from advisor.web_render import OPTION_NAMES, field_label, human_value, reasons_markdown

if TYPE_CHECKING:
    from advisor.config import Settings

__all__ = ["NOT_STATED", "AssessTab", "build_assess", "form_to_profile"]

NOT_STATED = "not stated"
_YES_NO = {"yes": True, "no": False}


def _choices(field: str) -> list[str] | None:
    """The allowed values of a choice field (Literal or bool), or None for a number."""
    annotation = Profile.model_fields[field].annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if bool in args:
        return list(_YES_NO)
    literals = [v for a in args if typing.get_origin(a) is typing.Literal for v in typing.get_args(a)]
    return [str(v) for v in literals] or None


def form_to_profile(values: dict[str, Any]) -> Profile:
    """The form's values as a Profile: "not stated" and blanks are left out, yes/no become booleans, numbers may
    be written 8B, 500M or $2M; ProfileError names the field on bad input."""
    data: dict[str, Any] = {}
    for field in FIELD_ORDER:
        value = values.get(field)
        if value is None or (isinstance(value, str) and value.strip() in ("", NOT_STATED)):
            continue
        if _choices(field) == list(_YES_NO):
            data[field] = _YES_NO[str(value)]
        else:
            data[field] = value.strip() if isinstance(value, str) else value
    return parse_profile(data, source="form")


@dataclass
class AssessTab:
    """The form's inputs (in FIELD_ORDER) and the result components."""

    settings: Settings
    inputs: list[Any]
    summary: gr.Markdown
    plot: gr.Plot
    reasons: gr.Markdown
    assumptions: gr.Dataframe
    flips: gr.Dataframe
    json: gr.Textbox
    to_chat: gr.Button

    def score(self, *values: Any) -> tuple[Any, ...]:
        """Score the form: the same policy file and scorer as `advisor score`."""
        from advisor.scoring import PolicyError, load_policy, score_profile

        try:
            profile = form_to_profile(dict(zip(FIELD_ORDER, values, strict=True)))
            result = score_profile(profile, policy=load_policy(self.settings.policy_path, self.settings.knowledge_dir))
        except (ProfileError, PolicyError) as exc:
            skip = gr.skip()
            return f"⚠️ {exc}", skip, skip, skip, skip, skip
        data = result.as_dict()
        picked = data["recommended"]
        label = next((r["label"] for r in data["ranking"] if r["option"] == picked), None)
        summary = (f"### Recommendation: {label} (`{picked}`)" if picked else
                   "### Recommendation: none — every option is ruled out by a hard constraint")
        stated = profile.stated()
        summary += (f"\n\nFrom {len(stated)} stated fact(s); {len(data['assumptions'])} assumed "
                    "(listed below)." if stated else "\n\nNothing stated yet: every field is assumed.")
        assumptions = [[field_label(a["field"]), human_value(a["assumed"]), a["why"]] for a in data["assumptions"]]
        flips = [[f["change"], OPTION_NAMES.get(str(f["new_recommendation"]), "none")] for f in data["flips"]]
        return (summary, scores_figure(data), reasons_markdown(data["ranking"]),
                assumptions or [["—", "", "every field was stated"]], flips or [["no single change", "—"]],
                result.to_json())

    def chat_message(self, *values: Any) -> tuple[str, str]:
        """The form as the user's words for the chat (and a notice): sentences the advisor reads back exactly."""
        try:
            stated = form_to_profile(dict(zip(FIELD_ORDER, values, strict=True))).stated()
        except ProfileError as exc:
            return "", f"⚠️ {exc}"
        if not stated:
            return "", "⚠️ Fill in at least one field to discuss it in the chat."
        return describe_profile(stated) + " What should we do?", ""


def _input(field: str) -> Any:
    info = Profile.model_fields[field].description or ""
    choices = _choices(field)
    if choices is not None:
        return gr.Dropdown([NOT_STATED, *choices], value=NOT_STATED, label=field_label(field), info=info,
                           elem_id=f"assess-{field}", interactive=True)
    return gr.Textbox(value="", label=field_label(field), info=f"{info} Leave empty if not stated; 8B, 500M, "
                      "$2M work.", elem_id=f"assess-{field}", max_lines=1)


def build_assess(settings: Settings) -> AssessTab:
    """Lay out the Assess tab (inside an open gr.Tab) and wire the scoring."""
    inputs: list[Any] = []
    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            gr.Markdown("Describe the situation; leave what you do not know as *not stated* (the scorer assumes a "
                        "documented default and says so).")
            for start in range(0, len(FIELD_ORDER), 2):
                with gr.Row():
                    inputs.extend(_input(field) for field in FIELD_ORDER[start:start + 2])
            with gr.Row():
                run = gr.Button("Assess", variant="primary", elem_id="assess-run")
                to_chat = gr.Button("Discuss in the chat", elem_id="assess-to-chat")
        with gr.Column(scale=3):
            summary = gr.Markdown("Fill in what you know and press **Assess**.", elem_id="assess-summary")
            plot = gr.Plot(scores_figure(None, title="Ranked options (0–100)"), elem_id="assess-plot",
                           show_label=False)
            with gr.Accordion("What would change it", open=True):
                flips = gr.Dataframe(headers=["change", "new recommendation"], elem_id="assess-flips",
                                     interactive=False, wrap=True)
            with gr.Accordion("Assumed, not stated", open=False):
                assumptions = gr.Dataframe(headers=["field", "assumed", "why"], elem_id="assess-assumptions",
                                           interactive=False, wrap=True)
            with gr.Accordion("Why: each factor, with the guide section behind it", open=False):
                reasons = gr.Markdown(elem_id="assess-reasons")
            with gr.Accordion("The same output as `advisor score --json`", open=False):
                # A plain text box: its value is exactly the bytes `advisor score --json` prints.
                json_out = gr.Textbox(elem_id="assess-json", show_label=False, lines=12, max_lines=40,
                                      interactive=False, buttons=["copy"])
    tab = AssessTab(settings, inputs, summary, plot, reasons, assumptions, flips, json_out, to_chat)
    run.click(tab.score, inputs, [summary, plot, reasons, assumptions, flips, json_out], concurrency_limit=None)
    return tab
