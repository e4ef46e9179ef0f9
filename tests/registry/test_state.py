"""Registry state from tag records, without git: ordering, stages, skipped tags."""

from __future__ import annotations

from roar.registry.git import TagRecord
from roar.registry.state import build_state, hash_from_message

C1, C2, C3 = "1" * 40, "2" * 40, "3" * 40


def rec(
    name: str, commit: str, when: int = 100, *, annotated: bool = True, message: str = "m"
) -> TagRecord:
    return TagRecord(name, annotated, "commit", commit, "T", "t@x", when, message)


def test_same_second_assignments_resolve_by_counter_not_by_name_or_date() -> None:
    # #10 sorts before #9 as text, and the clock went backwards: the counter still wins.
    records = [
        rec("m@v0.0.1", C1, 100),
        rec("m@v0.0.2", C2, 100),
        rec("m#prod#10", C2, 100),
        rec("m#prod#9", C1, 101),
    ]
    artifact = build_state(records).artifacts["m"]
    assert [e.tag for e in artifact.events][-2:] == ["m#prod#9", "m#prod#10"]
    assert artifact.in_stage("prod")[0].version == "v0.0.2"


def test_unassignment_in_the_same_second_wins_by_counter() -> None:
    records = [rec("m@v1.0.0", C1), rec("m#prod!#2", C1), rec("m#prod#1", C1)]
    artifact = build_state(records).artifacts["m"]
    assert artifact.in_stage("prod") == []
    assert artifact.versions["v1.0.0"].stages["prod"].events[-1].tag == "m#prod!#2"


def test_several_versions_in_a_stage_newest_assignment_first() -> None:
    records = [
        rec("m@v0.0.1", C1),
        rec("m@v0.0.2", C2),
        rec("m@v0.0.3", C3),
        rec("m#dev#1", C1),
        rec("m#dev#2", C3),
        rec("m#dev#3", C2),
        rec("m#prod#4", C2),
    ]
    artifact = build_state(records).artifacts["m"]
    assert [v.version for v in artifact.in_stage("dev")] == ["v0.0.2", "v0.0.3", "v0.0.1"]
    assert artifact.latest() is not None
    assert artifact.latest().version == "v0.0.3"
    # --last-stage: v0.0.2 was last put in prod, so dev shows the next newest, v0.0.3.
    assert artifact.in_stage("dev", last_only=True)[0].version == "v0.0.3"
    assert [s.stage for s in artifact.versions["v0.0.2"].active_stages()] == ["prod", "dev"]
    assert artifact.next_counter() == 5


def test_assignment_without_registration_uses_the_commit_as_version() -> None:
    artifact = build_state([rec("zz#dev#1", C1)]).artifacts["zz"]
    assert artifact.in_stage("dev")[0].version == C1
    assert artifact.latest() is None


def test_deregistered_versions_leave_latest_and_stages() -> None:
    records = [
        rec("m@v1.0.0", C1),
        rec("m@v1.1.0", C2),
        rec("m#prod#1", C2),
        rec("m@v1.1.0!", C2, 101),
    ]
    artifact = build_state(records).artifacts["m"]
    assert artifact.latest().version == "v1.0.0"  # type: ignore[union-attr]
    assert artifact.in_stage("prod") == []


def test_deprecation_and_revival() -> None:
    records = [rec("m@v1.0.0", C1, 100), rec("m@deprecated", C1, 101)]
    assert not build_state(records).artifacts["m"].active
    revived = build_state([*records, rec("m@v1.1.0", C2, 102)]).artifacts["m"]
    assert revived.active


def test_malformed_lightweight_and_stray_tags_are_skipped_not_fatal() -> None:
    records = [
        rec("m@v1.0.0", C1),
        rec("foo@created", C1),
        rec("light@v1.0.0", C1, annotated=False),
        rec("q@v1.0", C1),
        rec("v2.0.0", C1),  # an ordinary release tag: not ours, no warning
        TagRecord("t@v1.0.0", True, "tree", "4" * 40, "T", "t@x", 1, ""),
    ]
    state = build_state(records)
    assert list(state.artifacts) == ["m"]
    assert [name for name, _ in state.skipped] == [
        "foo@created",
        "light@v1.0.0",
        "q@v1.0",
        "t@v1.0.0",
    ]


def test_monorepo_names_and_stages_used() -> None:
    state = build_state([rec("models/x=nn@v0.0.1", C1), rec("models/x=nn#qa#1", C1)])
    assert list(state.artifacts) == ["models/x:nn"]
    assert state.stages_used == ["qa"]


def test_hash_trailer() -> None:
    digest = "ab" * 32
    assert (
        hash_from_message(f"Registering artifact m version v1\n\nroar-hash: {digest}\n") == digest
    )
    assert hash_from_message("no trailer") is None
