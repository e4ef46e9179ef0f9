"""The tag grammar: GTO's forms exactly, and format/parse round-trips under Hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roar.errors import InvalidArtifactName, InvalidStage, InvalidVersion
from roar.registry.tags import (
    Action,
    RegistryRef,
    SemVer,
    Tag,
    check_artifact,
    check_stage,
    format_tag,
    parse_ref,
    parse_tag,
)

_EDGE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_INNER = _EDGE + "-/_"
_DIR = _EDGE + "-_./"

names = st.builds(
    lambda first, middle, last: first + middle + last if last else first,
    st.sampled_from(_EDGE),
    st.text(_INNER, max_size=12),
    st.one_of(st.just(""), st.sampled_from(_EDGE)),
)
dirnames = st.text(_DIR, min_size=1, max_size=12)
artifacts = st.one_of(names, st.builds(lambda d, n: f"{d}:{n}", dirnames, names))
numbers = st.integers(min_value=0, max_value=10**6).map(str)
_ALNUM = _EDGE + "-"
identifiers = st.one_of(
    numbers,
    st.builds(
        lambda digits, letter, rest: digits + letter + rest,
        st.text("0123456789", max_size=3),
        st.sampled_from("abcXYZ-"),
        st.text(_ALNUM, max_size=4),
    ),
)
versions = st.builds(
    lambda ma, mi, pa, pre, build: (
        f"v{ma}.{mi}.{pa}"
        + (f"-{'.'.join(pre)}" if pre else "")
        + (f"+{'.'.join(build)}" if build else "")
    ),
    numbers,
    numbers,
    numbers,
    st.lists(identifiers, max_size=3),
    st.lists(st.text(_ALNUM, min_size=1, max_size=6), max_size=3),
)
counters = st.one_of(st.none(), st.integers(min_value=0, max_value=10**6))


@st.composite
def tags(draw: st.DrawFn) -> Tag:
    action = draw(st.sampled_from(list(Action)))
    version = draw(versions) if action in (Action.REGISTER, Action.DEREGISTER) else None
    stage = draw(names) if action in (Action.ASSIGN, Action.UNASSIGN) else None
    return Tag(draw(artifacts), action, version=version, stage=stage, counter=draw(counters))


@given(tags())
def test_format_then_parse_is_identity(tag: Tag) -> None:
    assert parse_tag(format_tag(tag)) == tag


@given(tags())
def test_parse_then_format_is_identity(tag: Tag) -> None:
    text = format_tag(tag)
    parsed = parse_tag(text)
    assert parsed is not None
    assert format_tag(parsed) == text


@given(artifacts)
def test_monorepo_names_are_written_with_equals(artifact: str) -> None:
    text = format_tag(Tag(artifact, Action.DEPRECATE))
    assert ":" not in text
    assert text == artifact.replace(":", "=") + "@deprecated"


@given(tags(), st.sampled_from(["", " ", "x", "!", "#", "@", "#-1", ":"]))
def test_no_garbage_after_a_tag_parses(tag: Tag, junk: str) -> None:
    text = format_tag(tag) + junk
    parsed = parse_tag(text)
    assert parsed is None or format_tag(parsed) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("model@v0.0.1", Tag("model", Action.REGISTER, version="v0.0.1")),
        ("model@v1.2.3!", Tag("model", Action.DEREGISTER, version="v1.2.3")),
        ("model#prod#3", Tag("model", Action.ASSIGN, stage="prod", counter=3)),
        ("model#prod!#4", Tag("model", Action.UNASSIGN, stage="prod", counter=4)),
        ("model#prod", Tag("model", Action.ASSIGN, stage="prod")),
        ("model#prod!", Tag("model", Action.UNASSIGN, stage="prod")),
        ("model@deprecated", Tag("model", Action.DEPRECATE)),
        ("model@deprecated#7", Tag("model", Action.DEPRECATE, counter=7)),
        ("model@v0.0.1#1", Tag("model", Action.REGISTER, version="v0.0.1", counter=1)),
        ("model@v0.0.1!#3", Tag("model", Action.DEREGISTER, version="v0.0.1", counter=3)),
        (
            "dir=sub/nn@v1.0.0-rc.1+build.5",
            Tag("dir:sub/nn", Action.REGISTER, "v1.0.0-rc.1+build.5"),
        ),
        ("a.b/c_d=nn#dev#2", Tag("a.b/c_d:nn", Action.ASSIGN, stage="dev", counter=2)),
    ],
)
def test_gto_forms(text: str, expected: Tag) -> None:
    assert parse_tag(text) == expected
    assert format_tag(expected) == text


@pytest.mark.parametrize(
    "text",
    [
        "v1.2.3",  # a release tag, not the registry's
        "foo@created",  # GTO's regex knows it; GTO crashes on it; roar skips it
        "model@1.0.0",  # no v
        "model@v1.0",  # not SemVer
        "model@v01.0.0",  # leading zero
        "model@v1.0.0-01",  # numeric prerelease with a leading zero
        "-model@v1.0.0",
        "model-@v1.0.0",
        "mo del@v1.0.0",
        "model#",
        "model#prod#",
        "model#prod#x",
        "model#-prod#1",
        "a:b@v1.0.0",  # ':' is written '=' in tags
        "a=b=c@v1.0.0",
        "model@latest",
    ],
)
def test_not_registry_tags(text: str) -> None:
    assert parse_tag(text) is None


@pytest.mark.parametrize("name", ["a", "A", "Ab", "a_b", "a/b", "a-b-c", "1", "d:a", "x.y/z_-:n/m"])
def test_valid_names(name: str) -> None:
    assert check_artifact(name) == name


@pytest.mark.parametrize("name", ["", "a-", "-a", "_a", "ab_", "a b", "a.b", "a:b:c", ":a", "d:"])
def test_invalid_names_show_the_grammar(name: str) -> None:
    with pytest.raises(InvalidArtifactName) as caught:
        check_artifact(name)
    assert "[dir:]name" in caught.value.message
    assert caught.value.exit_code == 2


def test_invalid_stage_and_version_show_the_grammar() -> None:
    with pytest.raises(InvalidStage, match="starting and ending with a letter or digit"):
        check_stage("pro d")
    with pytest.raises(InvalidVersion, match="SemVer 2.0 with a leading v"):
        SemVer.parse("1.0.0")


def test_semver_precedence_follows_the_spec() -> None:
    # SemVer 2.0 section 11's own example, plus build metadata that does not count.
    ordered = [
        "v1.0.0-alpha",
        "v1.0.0-alpha.1",
        "v1.0.0-alpha.beta",
        "v1.0.0-beta",
        "v1.0.0-beta.2",
        "v1.0.0-beta.11",
        "v1.0.0-rc.1",
        "v1.0.0",
        "v1.0.1",
        "v1.2.0",
        "v1.10.0",
        "v2.0.0",
    ]
    parsed = [SemVer.parse(v) for v in ordered]
    assert sorted(reversed(parsed)) == parsed
    assert SemVer.parse("v1.0.0+a").precedence == SemVer.parse("v1.0.0+b").precedence


@given(versions)
def test_bumps_move_forward(text: str) -> None:
    version = SemVer.parse(text)
    for part in ("major", "minor", "patch"):
        assert version.bump(part) > version


def test_bump_examples() -> None:
    assert SemVer.parse("v1.2.3").bump("patch").text == "v1.2.4"
    assert SemVer.parse("v1.2.3").bump("minor").text == "v1.3.0"
    assert SemVer.parse("v1.2.3").bump("major").text == "v2.0.0"
    assert SemVer.parse("v1.2.3-rc.1").bump("patch").text == "v1.2.3"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("churn@v1.2.0", RegistryRef("churn", version="v1.2.0")),
        ("churn@latest", RegistryRef("churn", latest=True)),
        ("churn@greatest", RegistryRef("churn", latest=True)),
        ("churn#prod", RegistryRef("churn", stage="prod")),
        ("models:churn#prod", RegistryRef("models:churn", stage="prod")),
        ("churn", None),
        ("data/model.pkl", None),
        ("churn#prod#3", None),
    ],
)
def test_references(text: str, expected: RegistryRef | None) -> None:
    assert parse_ref(text) == expected
    if expected is not None:
        assert str(expected) in (text, text.replace("@greatest", "@latest"))
