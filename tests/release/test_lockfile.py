"""prompts/llmctl.lock: parse, validate (errors name the line), atomic save, stable order."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmctl.config import load_config
from llmctl.errors import InputError
from llmctl.release import lockfile as lf
from llmctl.release import promote
from tests.gitrepo import GitRepo

H1 = "sha256:" + "a" * 64
H2 = "sha256:" + "b" * 64
GOOD = f"""\
lockfile_version: 1
prompts:
  summarize:
    releases:
      v1:
        hash: {H1}
        commit: {"ab12" * 10}
        date: '2025-01-01T00:00:00Z'
        author: A <a@example.com>
        forced: false
        evals:
        - {{evalset: summarize, run: r1, gate_passed: true}}
    labels:
      production:
        version: v1
        history:
        - {{version: v1, date: '2025-01-01T00:00:00Z', author: A, commit: null, forced: false}}
"""


def test_round_trip_and_atomic_save(tmp_path: Path) -> None:
    path = tmp_path / "llmctl.lock"
    path.write_text(GOOD)
    lock = lf.load(path)
    entry = lock.prompts["summarize"]
    assert entry.releases["v1"].evals[0].gate_passed is True
    assert entry.next_version() == "v2" and entry.release_for_hash(H1).version == "v1"
    entry.releases["v2"] = lf.Release("v2", H2, "cd34" * 10, "2025-02-01T00:00:00Z")
    lock.ensure_entry("alpha")
    lf.save(lock)
    text = path.read_text()
    assert text.startswith("# llmctl lockfile") and text.index("alpha:") < text.index("summarize:")
    assert lf.dumps(lf.load(path)) == text
    assert [p.name for p in tmp_path.iterdir()] == ["llmctl.lock"]  # no temp files left


def test_missing_file_is_empty(tmp_path: Path) -> None:
    lock = lf.load(tmp_path / "nope.lock")
    assert lock.prompts == {} and not lock.exists


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("version: v1\n", "version: v9\n", "not a release"),
        ("forced: false\n", "forced: maybe\n", "true or false"),
        ("      v1:\n", "      one:\n", "must be named v1"),
        (f"hash: {H1}", "hash: md5", "sha256:<hex>"),
        ("commit: " + "ab12" * 10, "commit: main", "git commit SHA"),
        ("      production:\n", "      my label:\n", "invalid label name"),
        ("    labels:\n", "    lables:\n", "unknown key 'lables'"),
        ("lockfile_version: 1", "lockfile_version: 7", "unsupported lockfile_version"),
        ("        author: A <a@example.com>\n", "        author: [x\n", "invalid YAML"),
    ],
)
def test_invalid_lockfile_names_the_line(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in GOOD
    text = GOOD.replace(old, new, 1)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if new.strip().split("\n")[0] in t)
    path = tmp_path / "llmctl.lock"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        lf.load(path, display="prompts/llmctl.lock")
    assert message in info.value.message
    assert info.value.file == "prompts/llmctl.lock"
    assert info.value.line is not None and abs(info.value.line - line) <= 1


def test_duplicate_hash_is_invalid(tmp_path: Path) -> None:
    text = GOOD.replace(
        "    labels:\n", f"      v2:\n        hash: {H1}\n        commit: {'2' * 40}\n        date: x\n    labels:\n"
    )
    path = tmp_path / "l.lock"
    path.write_text(text)
    with pytest.raises(InputError, match="same content hash as v1"):
        lf.load(path)


@pytest.mark.parametrize("label", ["production", "staging-2", "canary.eu", "qa_1"])
def test_good_labels(label: str) -> None:
    lf.check_label_name(label)


@pytest.mark.parametrize("label", ["", "has space", "v2", "WORKTREE", "-x", "a/b", "a..b", "x.lock", "é"])
def test_bad_labels(label: str) -> None:
    with pytest.raises(InputError):
        lf.check_label_name(label)


def test_lockfile_round_trip_and_stable_order(project: GitRepo) -> None:
    cfg = load_config(project.root)
    promote(cfg, "summarize", "production", force=True)
    promote(cfg, "classify", "production", force=True)
    path = project.root / "prompts/llmctl.lock"
    text = path.read_text()
    lock = lf.load(path)
    assert lf.dumps(lock) == text
    assert text.index("classify:") < text.index("summarize:")
