"""How a job's inputs are cut into shared groups (roar/store/input_groups.py)."""

from __future__ import annotations

import zlib

from roar.store.input_groups import CUT_MASK, MAX_MEMBERS, bulk_rows, cut_groups


def digest_of(text: str) -> str:
    return text.encode().hex().ljust(64, "0")[:64]


def dataset(count: int, folder: str = "data") -> list[tuple[str, str]]:
    return [(f"{folder}/f{i:05d}.txt", digest_of(f"c{i}")) for i in range(count)]


def is_cut(path: str) -> bool:
    return zlib.crc32(path.encode()) & CUT_MASK == 0


def test_groups_hold_every_pair_once_in_path_order() -> None:
    pairs = dataset(3_000)
    groups = cut_groups(reversed(pairs + pairs[:10]))
    assert [pair for g in groups for pair in g.members] == sorted(pairs)
    assert 3_000 // (CUT_MASK + 1) // 3 < len(groups) < 3_000 // (CUT_MASK + 1) * 3
    # every group but the last ends on a cut path
    assert all(is_cut(g.members[-1][0]) for g in groups[:-1])
    assert len({g.digest for g in groups}) == len(groups)


def test_the_same_pairs_give_the_same_groups() -> None:
    assert cut_groups(dataset(1_000)) == cut_groups(list(reversed(dataset(1_000))))


def test_a_changed_file_changes_only_its_own_group() -> None:
    pairs = dataset(2_000)
    before = cut_groups(pairs)
    changed = list(pairs)
    changed[777] = (changed[777][0], digest_of("new content"))
    after = cut_groups(changed)
    assert len(after) == len(before)
    differing = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    assert len(differing) == 1
    assert changed[777] in after[differing[0]].members


def test_an_added_or_removed_file_touches_only_its_own_group() -> None:
    pairs = dataset(2_000)
    before = {g.digest for g in cut_groups(pairs)}
    added = {g.digest for g in cut_groups([*pairs, ("data/f00500.txt-extra", digest_of("x"))])}
    removed = {g.digest for g in cut_groups(pairs[:900] + pairs[901:])}
    # a new path inside a group replaces that group; a cut path may also split it in two
    assert 1 <= len(added - before) <= 2
    assert len(before - added) == 1
    assert len(removed - before) == 1
    assert 1 <= len(before - removed) <= 2


def test_a_run_without_cuts_is_split_at_the_cap() -> None:
    paths = [f"p{i}" for i in range(30_000) if not is_cut(f"p{i}")][: MAX_MEMBERS * 2 + 5]
    groups = cut_groups((path, digest_of(path)) for path in paths)
    assert [len(g.members) for g in groups] == [MAX_MEMBERS, MAX_MEMBERS, 5]


def test_paths_that_look_like_the_encoding_do_not_collide() -> None:
    h1, h2 = digest_of("one"), digest_of("two")
    # "a\nb" as one path must not read like two entries
    tricky = cut_groups([(f"a\0{h1}\nb", h2)])
    plain = cut_groups([("a", h1), ("b", h2)])
    assert tricky[0].digest != plain[0].digest
    newline = cut_groups([("dir/with\nnewline", h1)])
    assert newline[0].members == (("dir/with\nnewline", h1),)


def test_bulk_rows_share_groups_between_jobs_and_number_them_on() -> None:
    data = dataset(1_000)
    other = dataset(300, folder="other")
    ids: dict[str, int] = {}
    rows = bulk_rows({1: data, 2: list(data), 3: data + other}, ids)
    group_count = len(cut_groups(data))
    # jobs 1 and 2 read the same files: one set of groups; job 3 adds only `other`'s
    assert len(rows.groups) == len({*ids.values()})
    assert [g[0] for g in rows.groups] == list(range(1, len(rows.groups) + 1))
    assert len(rows.members) == sum(size for _, _, size in rows.groups)
    links = {job: {g for j, g in rows.links if j == job} for job in (1, 2, 3)}
    assert links[1] == links[2]
    assert len(links[1]) == group_count
    # job 3 shares all of them but the last, which runs on into `other`'s paths
    assert len(links[1] - links[3]) <= 1
    assert len(links[3] - links[1]) >= 1
    # a later batch continues the numbering and finds the groups already there
    again = bulk_rows({4: data}, ids)
    assert again.groups == []
    assert again.members == []
    assert {g for _, g in again.links} == links[1]


def test_the_migration_reads_old_rows_in_bounded_batches_of_whole_jobs() -> None:
    import importlib.util

    from roar.store.migrate import MIGRATIONS

    path = MIGRATIONS / "versions" / "0002_input_groups.py"
    spec = importlib.util.spec_from_file_location("migration_0002", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    limit = module._ROWS_PER_BATCH
    counts = [(1, 5), (2, limit - 5), (3, limit + 1), (4, 1), (5, 2)]
    # a job is never split; one bigger than a batch gets its own
    assert list(module._job_batches(counts)) == [[1, 2], [3], [4, 5]]
    assert list(module._job_batches([])) == []
