"""llmctl.store._views: the viewer's paged, paired and counted reads, done in SQL."""

from __future__ import annotations

from store_helpers import fill, new_run, result_row

from llmctl.store import Store
from llmctl.store import _views as views


def test_result_keys_page_and_keyset_stream_cover_the_run_once_in_order(store: Store) -> None:
    rid = new_run(store)
    fill(store, rid, 7)
    keys, total = views.result_keys_page(store, rid, limit=3, offset=0)
    assert total == 7 and len(keys) == 3
    streamed: list[str] = []
    after = None
    while True:
        part, after = views.result_keys_after(store, rid, after, 2)
        if not part:
            break
        streamed += part
    assert len(streamed) == 7 == len(set(streamed)) and streamed[:3] == keys
    assert views.result_keys_page(store, rid, limit=3, offset=50) == ([], 7)


def test_pairs_are_counted_and_paged_with_flips_first(store: Store) -> None:
    a, b = new_run(store), new_run(store)
    with store.writer(a) as w:
        for i in range(4):
            w.add(result_row(i, passed=True), [])
    with store.writer(b) as w:
        for i in range(1, 5):  # case 0 only in a, case 4 only in b; case 2 flips to a fail
            w.add(result_row(i, passed=i != 2), [])
    counts = views.pair_counts(store, a, b)
    assert counts == {"only in a": 1, "only in b": 1, "pass -> fail": 1, "same": 2}
    same_counts, page = views.pairs_page(store, a, b, changed_only=True, limit=10, offset=0)
    assert same_counts == counts
    assert (page[0][2], page[0][4]) == ("case-2", "pass -> fail")
    assert {row[4] for row in page} == {"pass -> fail", "only in a", "only in b"}
    _, second = views.pairs_page(store, a, b, changed_only=False, limit=2, offset=2)
    assert len(second) == 2


def test_matrix_page_filters_failed_cases_and_counts_them(store: Store) -> None:
    rid = new_run(store)
    fill(store, rid, 9)  # passed unless i % 3 == 0: cases 0, 3, 6 fail
    cols, rows, total = views.matrix_page(store, rid, "", "", "failed", limit=2, offset=0)
    assert cols == [("summarize", "sha256:v1", "echo")]
    assert total == 3 and [c for c, _, _ in rows] == ["case-0", "case-3"]
    assert views.matrix_page(store, rid, "", "", "failed", limit=2, offset=10)[2] is None
    assert views.matrix_count(store, rid, "", "", "failed") == 3
    assert views.matrix_count(store, rid, "", "summary 4", "all") == 1


def test_prompt_version_stats(store: Store) -> None:
    rid = new_run(store)
    fill(store, rid, 6)
    [row] = views.prompt_version_stats(store, "summarize")
    assert (row["version_hash"], row["n_results"], row["n_passed"], row["n_errors"], row["runs"]) == (
        "sha256:v1", 6, 4, 0, 1,
    )  # fmt: skip
    assert views.prompt_version_stats(store, "nope") == []
