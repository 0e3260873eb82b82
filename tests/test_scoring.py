"""Option scoring: recommendations derived from the guidance, properties, policy validation, the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisor.cli import EXIT_ERROR, EXIT_OK, main
from advisor.profile import FIELD_ORDER, Profile, ProfileError, parse_profile
from advisor.scoring import OPTIONS, PolicyError, load_policy, score_profile

# Each row: a situation, the profile a careful reader would write down, and what the guidance recommends.
TABLE: list[tuple[str, dict[str, Any], str]] = [
    ("nothing stated: a typical team without ML staff or data", {}, "api"),
    ("no ML skills at all", {"team_ml_expertise": "none"}, "api"),
    ("regulated data, experienced team", {"data_sensitivity": "regulated", "team_ml_expertise": "experienced"},
     "open_weight"),
    ("patient records even without ML staff", {"data_sensitivity": "regulated", "team_ml_expertise": "none"},
     "open_weight"),
    # Regulated data must stay on own infrastructure, so the hosted API is out even for a team that would
    # otherwise take it (no ML staff, a short deadline); a provider agreement makes the data internal instead.
    ("regulated data, no ML team, a month to ship", {"data_sensitivity": "regulated", "team_ml_expertise": "none",
                                                     "time_to_market_weeks": 4}, "open_weight"),
    ("a provider agreement is acceptable: internal data", {"data_sensitivity": "internal",
                                                           "team_ml_expertise": "none", "time_to_market_weeks": 4},
     "api"),
    ("air-gapped network", {"deployment": "air_gapped"}, "open_weight"),
    ("on-device generation", {"deployment": "edge", "task_scope": "broad"}, "open_weight"),
    ("on-device classifier with labels", {"deployment": "edge", "task_scope": "narrow", "labeled_examples": 5000},
     "small_model"),
    ("own data centre, capable team", {"deployment": "on_prem", "team_ml_expertise": "experienced"}, "open_weight"),
    ("frontier quality, prototype in a month", {"quality_bar": "frontier", "time_to_market_weeks": 4}, "api"),
    ("three-week prototype", {"time_to_market_weeks": 3, "team_ml_expertise": "basic"}, "api"),
    ("tens of billions of tokens a month", {"monthly_tokens": 2e10, "team_ml_expertise": "experienced"},
     "open_weight"),
    ("billions of tokens with cost pressure", {"monthly_tokens": 5e9, "team_ml_expertise": "experienced",
                                                "budget_usd": 3e5}, "open_weight"),
    ("avoid lock-in, basic team", {"needs_model_control": True}, "open_weight"),
    ("own the weights, experienced team", {"needs_model_control": True, "team_ml_expertise": "experienced"},
     "open_weight"),
    ("domain adaptation without architecture change", {"proprietary_data_tokens": 5e9,
                                                       "team_ml_expertise": "experienced"}, "open_weight"),
    ("custom tokenizer, web-scale data, moat, big budget", {
        "needs_custom_architecture": True, "team_ml_expertise": "research", "proprietary_data_tokens": 1e12,
        "strategic_moat": True, "budget_usd": 2e7, "time_to_market_weeks": 60}, "pretrain"),
    ("custom architecture with massive data", {"needs_custom_architecture": True, "team_ml_expertise": "research",
                                               "proprietary_data_tokens": 5e11, "budget_usd": 5e6}, "pretrain"),
    ("LLM is the moat, massive data and budget", {"strategic_moat": True, "team_ml_expertise": "research",
                                                  "proprietary_data_tokens": 5e11, "budget_usd": 2e7}, "pretrain"),
    ("massive data but no moat or architecture need", {"proprietary_data_tokens": 5e11,
                                                        "team_ml_expertise": "research"}, "open_weight"),
    ("custom architecture on a small budget", {"needs_custom_architecture": True, "budget_usd": 1e5}, "open_weight"),
    ("ticket routing with 10k labels", {"task_scope": "narrow", "labeled_examples": 10_000,
                                        "team_ml_expertise": "experienced"}, "small_model"),
    ("narrow task but no labels", {"task_scope": "narrow", "labeled_examples": 0}, "api"),
    ("extraction under 50 ms", {"task_scope": "narrow", "labeled_examples": 2000, "latency_ms": 50}, "small_model"),
    ("regulated narrow task on own servers", {"task_scope": "narrow", "labeled_examples": 2000,
                                              "data_sensitivity": "regulated", "deployment": "on_prem"},
     "small_model"),
    ("frontier quality but regulated data", {"quality_bar": "frontier", "data_sensitivity": "regulated",
                                             "team_ml_expertise": "experienced"}, "open_weight"),
    ("research lab serving heavy traffic", {"team_ml_expertise": "research", "monthly_tokens": 2e10},
     "open_weight"),
    ("shoestring budget", {"budget_usd": 3e4}, "api"),
    ("public data, best quality", {"data_sensitivity": "public", "quality_bar": "frontier"}, "api"),
    ("custom small architecture for a narrow task", {"needs_custom_architecture": True, "task_scope": "narrow",
                                                     "labeled_examples": 5000, "team_ml_expertise": "experienced"},
     "small_model"),
    ("high volume narrow classification", {"task_scope": "narrow", "labeled_examples": 20_000,
                                           "monthly_tokens": 3e10}, "small_model"),
]


@pytest.mark.parametrize(("situation", "profile", "expected"), TABLE, ids=[row[0] for row in TABLE])
def test_recommendations_follow_the_guidance(situation: str, profile: dict[str, Any], expected: str) -> None:
    result = score_profile(Profile(**profile))
    assert result.recommended == expected, [(r["option"], r["score"], r["eligible"]) for r in result.ranking]
    top = result.ranking[0]
    assert top["option"] == expected and top["eligible"]


def test_table_is_big_enough_and_covers_every_option() -> None:
    assert len(TABLE) >= 25
    assert {row[2] for row in TABLE} == set(OPTIONS)


def test_output_shape_reasons_and_assumptions() -> None:
    result = score_profile(Profile(deployment="air_gapped", data_sensitivity="regulated"))
    data = json.loads(result.to_json())
    assert set(data) == {"recommended", "ranking", "flips", "assumptions", "profile"}
    api = next(r for r in data["ranking"] if r["option"] == "api")
    assert api["eligible"] is False and data["ranking"][-1]["eligible"] is False
    excluded = {r["factor"]: r for r in api["reasons"] if r["effect"] == "excluded"}
    assert set(excluded) == {"data-regulated", "deploy-air-gapped"}
    assert "air_gapped" in excluded["deploy-air-gapped"]["input"]
    assert excluded["deploy-air-gapped"]["source"] == ("guides/privacy-and-regulation.md#Air-gapped and "
                                                       "on-premises deployments")
    for option in data["ranking"]:
        assert 0 <= option["score"] <= 100
        for reason in option["reasons"]:
            assert {"factor", "input", "effect", "why", "source"} == set(reason)
    assumed = {a["field"] for a in data["assumptions"]}
    assert "deployment" not in assumed and "team_ml_expertise" in assumed
    assert assumed == set(FIELD_ORDER) - {"deployment", "data_sensitivity"}


def test_flips_name_the_smallest_change() -> None:
    result = score_profile(Profile(data_sensitivity="regulated", team_ml_expertise="experienced"))
    flip = next(f for f in result.flips if f["field"] == "data_sensitivity")
    assert flip["to"] == "internal" and flip["new_recommendation"] == "api"
    volume = score_profile(Profile(team_ml_expertise="experienced", monthly_tokens=2e10))
    assert volume.recommended == "open_weight"
    flip = next(f for f in volume.flips if f["field"] == "monthly_tokens")
    assert flip["new_recommendation"] == "api" and flip["to"] < 2e10


def test_scoring_is_fast_and_does_no_io(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins
    import time

    profile = Profile(data_sensitivity="regulated", monthly_tokens=3e9)
    score_profile(profile)  # policy loaded and cached

    def no_open(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("scoring opened a file")

    monkeypatch.setattr(builtins, "open", no_open)
    started = time.perf_counter()
    for _ in range(200):
        score_profile(profile)
    per_call = (time.perf_counter() - started) / 200
    assert per_call < 0.01  # generous on a shared machine; typically ~0.3 ms with all flips


# --- properties -------------------------------------------------------------------------------------------------
_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "team_ml_expertise": st.sampled_from(["none", "basic", "experienced", "research"]),
    "data_sensitivity": st.sampled_from(["public", "internal", "regulated"]),
    "deployment": st.sampled_from(["cloud", "on_prem", "air_gapped", "edge"]),
    "task_scope": st.sampled_from(["narrow", "broad"]),
    "quality_bar": st.sampled_from(["standard", "frontier"]),
    "proprietary_data_tokens": st.sampled_from([0.0, 5e7, 1e8, 3e9, 1e11, 4e11, 1e12, 5e12]),
    "labeled_examples": st.integers(0, 50_000),
    "monthly_tokens": st.sampled_from([0.0, 1e6, 1e7, 5e8, 1e9, 5e9, 1e10, 1e11]),
    "latency_ms": st.integers(10, 5000),
    "budget_usd": st.floats(0, 1e8, allow_nan=False),
    "time_to_market_weeks": st.integers(1, 200),
    "needs_custom_architecture": st.booleans(),
    "strategic_moat": st.booleans(),
    "needs_model_control": st.booleans(),
}
profiles = st.fixed_dictionaries({}, optional={k: st.one_of(st.none(), v) for k, v in _VALUES.items()}).map(
    lambda d: Profile(**d))
fast = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _score(result: Any, option: str) -> float:
    return float(next(r["score"] for r in result.ranking if r["option"] == option))


@fast
@given(profiles)
def test_same_profile_same_bytes(profile: Profile) -> None:
    again = Profile.model_validate(json.loads(profile.model_dump_json()))
    assert score_profile(profile).to_json() == score_profile(again).to_json()


@fast
@given(profiles)
def test_recommended_is_the_best_eligible_option(profile: Profile) -> None:
    result = score_profile(profile)
    eligible = [r for r in result.ranking if r["eligible"]]
    assert eligible, "open_weight is never excluded, so something is always eligible"
    assert result.recommended == eligible[0]["option"]
    assert all(eligible[0]["score"] >= r["score"] for r in eligible)


@fast
@given(profiles)
def test_every_flip_really_flips(profile: Profile) -> None:
    result = score_profile(profile)
    fields = [f["field"] for f in result.flips]
    assert len(fields) == len(set(fields))
    for flip in result.flips:
        changed = Profile(**{**result.profile, flip["field"]: flip["to"]})
        assert score_profile(changed).recommended == flip["new_recommendation"] != result.recommended


@fast
@given(profiles, st.sampled_from(["team_ml_expertise", "data_sensitivity", "quality_bar", "task_scope"]))
def test_no_nearer_value_flips(profile: Profile, field: str) -> None:
    from advisor.scoring import _ORDERED

    result = score_profile(profile)
    flip = next((f for f in result.flips if f["field"] == field), None)
    order = _ORDERED[field]
    here = order.index(result.profile[field])
    limit = abs(order.index(flip["to"]) - here) if flip else len(order)
    for value in order:
        if 0 < abs(order.index(value) - here) < limit:
            changed = Profile(**{**result.profile, field: value})
            assert score_profile(changed).recommended == result.recommended


@fast
@given(profiles)
def test_more_sensitive_data_never_raises_api(profile: Profile) -> None:
    scores = [_score(score_profile(profile.model_copy(update={"data_sensitivity": s})), "api")
              for s in ("public", "internal", "regulated")]
    assert scores[0] >= scores[1] >= scores[2]


@fast
@given(profiles)
def test_custom_architecture_never_lowers_pretrain(profile: Profile) -> None:
    without = score_profile(profile.model_copy(update={"needs_custom_architecture": False}))
    with_ = score_profile(profile.model_copy(update={"needs_custom_architecture": True}))
    assert _score(with_, "pretrain") >= _score(without, "pretrain")
    assert not next(r for r in with_.ranking if r["option"] == "api")["eligible"]


@fast
@given(profiles, st.sampled_from([0.0, 1e8, 1e11, 1e12]), st.sampled_from([1e8, 1e11, 1e12, 1e13]))
def test_more_data_never_lowers_pretrain(profile: Profile, low: float, high: float) -> None:
    low, high = min(low, high), max(low, high)
    a = score_profile(profile.model_copy(update={"proprietary_data_tokens": low}))
    b = score_profile(profile.model_copy(update={"proprietary_data_tokens": high}))
    assert _score(b, "pretrain") >= _score(a, "pretrain")


@fast
@given(profiles, st.sampled_from([0.0, 1e7, 1e9, 1e10]), st.sampled_from([1e7, 1e9, 1e10, 1e12]))
def test_more_volume_never_raises_api(profile: Profile, low: float, high: float) -> None:
    low, high = min(low, high), max(low, high)
    a = score_profile(profile.model_copy(update={"monthly_tokens": low}))
    b = score_profile(profile.model_copy(update={"monthly_tokens": high}))
    assert _score(b, "api") <= _score(a, "api")


@fast
@given(profiles)
def test_air_gapped_or_edge_never_recommends_api(profile: Profile) -> None:
    for deployment in ("air_gapped", "edge"):
        assert score_profile(profile.model_copy(update={"deployment": deployment})).recommended != "api"


def test_scores_are_a_strictly_increasingsquash() -> None:
    from advisor.scoring import squash

    values = [squash(raw, 25) for raw in range(-100, 200, 5)]
    assert values == sorted(values) and values[0] > 0 and values[-1] <= 100
    assert squash(50, 25) == 50.0 and math.isclose(squash(75, 25), 73.1)


# --- policy and profile validation ------------------------------------------------------------------------------
def test_shipped_policy_cites_existing_sections() -> None:
    policy = load_policy()
    assert len(policy.rules) >= 25
    assert all(r.source.startswith("guides/") for r in policy.rules)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t.replace("team_ml_expertise: none", "team_ml_expertise: wizard"), "rule 'team-no-ml' field 'when'"),
    (lambda t: t.replace("effects: {api: 25,", "effects: {apii: 25,"), "rule 'team-no-ml' field 'effects"),
    (lambda t: t.replace('source: "guides/option-api.md#Advantages"', 'source: "guides/option-api.md#Nope"', 1),
     "rule 'team-no-ml' field 'source': no section 'Nope'"),
    (lambda t: t.replace("squash_scale: 25", "squash_scale: 25\nsurprise: 1"), "field 'surprise'"),
    (lambda t: t + "\n  - [", "malformed YAML"),
])
def test_bad_policy_files_are_named(tmp_path: Path, edit: Any, message: str) -> None:
    from advisor.config import REPO_ROOT

    text = (REPO_ROOT / "knowledge" / "scoring.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "scoring.yaml"
    bad.write_text(edit(text), encoding="utf-8")
    with pytest.raises(PolicyError, match=r"scoring\.yaml") as info:
        load_policy(bad, REPO_ROOT / "knowledge")
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(("text", "message"), [
    ("colour: blue", "unknown field 'colour'"),
    ("deployment: moon", "field 'deployment'"),
    ("monthly_tokens: -1", "field 'monthly_tokens'"),
    ("labeled_examples: lots", "field 'labeled_examples'"),
    ("- a\n- b", "expected a mapping"),
    ("team_ml_expertise: [", "malformed YAML"),
])
def test_bad_profiles_are_one_line(text: str, message: str) -> None:
    with pytest.raises(ProfileError, match="profile") as info:
        parse_profile(text)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_human_quantities_are_accepted() -> None:
    profile = parse_profile("monthly_tokens: 8B\nproprietary_data_tokens: 500M\nbudget_usd: $2M\nlabeled_examples: 10k")
    assert (profile.monthly_tokens, profile.proprietary_data_tokens) == (8e9, 5e8)
    assert (profile.budget_usd, profile.labeled_examples) == (2e6, 10_000)


# --- CLI --------------------------------------------------------------------------------------------------------
def test_score_cli_json_and_table(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    path = tmp_path / "p.yaml"
    path.write_text("data_sensitivity: regulated\nteam_ml_expertise: experienced\n", encoding="utf-8")
    assert main(["score", "--profile", str(path), "--json"]) == EXIT_OK
    first = capsys.readouterr().out
    assert json.loads(first)["recommended"] == "open_weight"
    monkeypatch.setattr("sys.stdin", io.StringIO(path.read_text(encoding="utf-8")))
    assert main(["score", "--profile", "-", "--json"]) == EXIT_OK
    assert capsys.readouterr().out == first  # same bytes from a file and from stdin
    assert main(["score", "--profile", str(path)]) == EXIT_OK
    table = capsys.readouterr().out
    assert "Recommendation: open_weight" in table and "What would change it" in table and "Assumed" in table


@pytest.mark.parametrize(("content", "message"), [
    ("colour: blue\n", "unknown field 'colour'"),
    (None, "cannot read"),
])
def test_score_cli_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None,
                             message: str) -> None:
    path = tmp_path / "p.yaml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    assert main(["score", "--profile", str(path)]) == EXIT_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
