"""Count the attacks llmctl's adversarial tests try and how many it holds, by category.

    .venv/bin/python benchmarks/attacks.py            # run them, print the table (~6 min on 2 cores)
    .venv/bin/python benchmarks/attacks.py --write    # ... and write it to benchmarks/RESULTS.md (replacing its section)
    .venv/bin/python benchmarks/attacks.py --only secrets,odd-servers

It runs the suites in SUITES through pytest in one child process (`-p no:warnings -q`,
`--junitxml`), reads every test item's outcome from the XML, and files each item under
the first category in CATEGORIES whose pattern matches its node id. Each collected item
(each parametrised case) is one attack. Held: it passed. Not held: it failed, errored or
is a known gap (xfail); their ids are listed. Skipped items (a tmpfs that cannot be
mounted, no browser) are counted apart: neither tried nor held. Exit status: 0 when every
attack tried held, 1 otherwise, 2 when pytest could not run the suites.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "RESULTS.md"
sys.path.insert(0, str(HERE))
from _results import write_section  # noqa: E402


def _in(path: str, *tests: str) -> list[str]:
    """Node ids of some tests of one file (the whole file when none are named)."""
    return [f"{path}::{t}" for t in tests] if tests else [path]


# What is run: whole adversarial files, and the adversarial tests of mixed files. No entry may
# contain another (pytest would run the test twice).
SUITES: list[str] = [
    "tests/reliability",
    *_in("tests/test_bad_inputs.py", "test_bad_input", "test_huge_file_is_refused"),
    *_in(
        "tests/test_properties.py",
        "test_arbitrary_text_never_crashes_the_parser",
        "test_arbitrary_bytes_never_crash_the_parser",
        "test_arbitrary_text_never_crashes_yaml_loading",
    ),
    *_in("tests/models/test_models_keepalive.py"),
    *_in("tests/models/test_models_http.py"),
    *_in("tests/models/test_models_response.py"),
    *_in(
        "tests/models/test_models_client.py",
        "test_retries_transient_faults",
        "test_429_honours_retry_after",
        "test_slow_response_times_out_then_retries",
        "test_exhausted_retries_give_an_error_without_the_key",
        "test_auth_error_is_not_retried_and_key_is_scrubbed",
    ),
    *_in("tests/store/test_identify.py"),
    *_in(
        "tests/store/test_schema.py",
        "test_newer_schema_is_refused_and_untouched",
        "test_a_non_duckdb_file_is_refused_and_untouched",
        "test_a_foreign_duckdb_database_is_refused",
    ),
    *_in("tests/store/test_writer_coerce.py", "test_a_batch_of_odd_values_is_stored_whole"),
    *_in("tests/store/test_processes.py"),
    *_in(
        "tests/store/test_merge.py",
        "test_a_hard_link_to_the_store_cannot_be_merged_into_it",
        "test_merge_refuses_mismatched_or_missing_shards",
        "test_merge_with_baselines_and_verdict_is_one_transaction",
    ),
    *_in(
        "tests/cli/test_promote.py",
        "test_failing_gate_refused_then_forced",
        "test_missing_eval_refused",
        "test_dirty_work_tree_and_bad_refs",
        "test_other_changes_are_not_swept_into_the_commit",
        "test_hand_edited_invalid_lockfile",
        "test_bad_label_names",
    ),
    *_in("tests/release/test_lockfile.py", "test_invalid_lockfile_names_the_line", "test_duplicate_hash_is_invalid"),
    *_in(
        "tests/test_github.py",
        "test_401_message_does_not_leak_the_token",
        "test_a_redirect_to_another_host_is_refused_and_gets_no_token",
    ),
    *_in("tests/test_prompt.py", "test_sandbox_blocks_escapes", "test_include_outside_prompts_is_refused"),
    *_in("tests/test_yamlio.py", "test_alias_bomb_is_refused", "test_deep_nesting_is_an_input_error"),
    *_in(
        "tests/test_sources.py",
        "test_safe_join_refuses",
        "test_links_inside_are_fine_outside_are_refused",
        "test_links_must_stay_inside_the_folder_read_from",
        "test_git_ref_reads_follow_committed_links_only_inside",
    ),
    *_in("tests/test_images.py", "test_a_symbolic_link_out_of_evalsets_is_refused"),
    *_in(
        "tests/evaluators/test_eval_judge.py",
        "test_judge_prompt_bombs_are_errors_not_hangs",
        "test_injected_output_cannot_make_the_judge_pass",
        "test_pairwise_delimits_untrusted_text",
        "test_prompt_injection_stays_inside_delimiters",
    ),
    *_in(
        "tests/reports/test_report_formats.py",
        "test_html_escapes_everything_and_has_strict_csp",
        "test_markdown_neutralises_hostile_outputs",
        "test_terminal_safe",
        "test_tool_calls_show_in_html_and_junit_escaped",
    ),
    *_in("tests/reports/test_report_browser.py", "test_csp_blocks_an_injected_script"),
    *_in("tests/cli/test_ci.py", "test_annotation_escapes_untrusted_text"),
    *_in(
        "tests/viewer/test_app.py",
        "test_a_foreign_host_header_is_refused",
        "test_writes_need_the_token_and_everything_else_is_read_only",
    ),
    *_in("tests/test_workflows.py", "test_no_untrusted_event_text_in_run_scripts"),
    # issue 22 (run, evaluators, models, red team)
    *_in("tests/run/test_deep_tool_args.py"),
    *_in("tests/run/test_offload_scoring.py"),
    *_in("tests/run/test_agent_limits.py", "test_stored_calls_and_turns_are_capped_and_the_request_is_bounded"),
    *_in("tests/models/test_models_litellm.py"),
    *_in(
        "tests/evaluators/test_eval_safety.py",
        "test_user_patterns_time_out_as_an_error_never_hang",
        "test_secrets_catches_unquoted_assignments_oauth_npm_and_hidden_keys",
        "test_secrets_on_a_megabyte_of_newlines_or_repeated_lines_is_fast",
        "test_pii_catches_cards_with_double_spaces_dots_nbsp_and_full_width_digits",
        "test_pii_catches_lowercase_and_hyphenated_ibans",
        "test_pii_catches_idn_and_quoted_emails",
        "test_pii_finds_a_phone_number_after_phone_like_junk",
        "test_moderation_never_takes_the_judge_model_and_lint_says_so",
    ),
    *_in(
        "tests/cli/test_redteam.py",
        "test_n_has_an_upper_bound_and_a_short_canary_is_refused_up_front",
        "test_attacker_is_not_called_for_cases_it_does_not_rewrite",
    ),
    *_in(
        "tests/test_labels_hardening.py",
        "test_concurrent_threads_keep_every_label",
        "test_concurrent_processes_keep_every_label",
        "test_a_writer_that_lost_a_race_is_told",
        "test_a_locked_labels_folder_times_out_with_a_message",
        "test_a_bad_labels_file_is_an_input_error_at_its_line",
        "test_at_and_by_are_validated",
        "test_a_labels_folder_linked_outside_the_project_is_not_written",
        "test_a_write_keeps_the_files_mode",
        "test_labels_import_of_a_bad_file_is_exit_2_at_its_line",
        "test_a_committed_bad_labels_file_is_exit_2_for_eval_and_calibrate",
        "test_deep_tool_call_arguments_still_hash",
        "test_evaluator_paths_stay_inside_the_project",
        "test_lint_reports_a_bad_labels_file_at_its_line",
        "test_lint_refuses_a_labels_folder_linked_outside",
    ),
    *_in(
        "tests/viewer/test_app_hardening.py",
        "test_a_slow_page_does_not_block_other_requests",
        "test_a_bad_repeat_index_is_400",
        "test_the_compare_api_pages_and_streams",
        "test_a_label_changed_in_another_tab_is_a_conflict",
        "test_a_bad_committed_labels_file_is_a_400_on_write_not_a_500",
        "test_a_case_id_with_a_newline_opens",
        "test_only_allowed_host_names_are_answered",
        "test_llmctl_view_on_all_addresses_answers_only_allowed_hosts",
    ),
    *_in("tests/store/test_export_csv_injection.py"),
]

# Where each attack is counted: the first category with a pattern that matches (re.search) its node id.
CATEGORIES: list[tuple[str, str, list[str]]] = [
    (
        "secrets",
        "API keys and tokens never leak",
        [
            r"test_rel_secrets\.py",
            r"test_models_client\.py::test_(exhausted_retries_give_an_error_without|auth_error)",
            r"test_models_http\.py::test_url_credentials",
            r"test_github\.py::",
        ],
    ),
    (
        "path-escapes",
        "links, includes and sources stay inside their folder, nothing from .git/",
        [
            r"test_bad_inputs\.py::test_bad_input\[(symlink-|include-parent|include-absolute|import-macro-outside"
            r"|source-escapes)",
            r"test_prompt\.py::test_include_outside",
            r"test_sources\.py::",
            r"test_images\.py::test_a_symbolic_link",
            r"test_labels_hardening\.py::test_(a_labels_folder_linked|a_write_keeps|evaluator_paths|lint_refuses_a_labels)",
        ],
    ),
    (
        "templates-yaml",
        "sandbox escapes, template, YAML and judge-prompt bombs, regex and render deadlines",
        [
            r"test_rel_templates\.py",
            r"test_rel_untrusted\.py::test_malicious_prompt",
            r"test_bad_inputs\.py::test_bad_input\[(sandbox-|template-|include-cycle|yaml-alias-bomb|python-yaml-tag)",
            r"test_prompt\.py::test_sandbox",
            r"test_yamlio\.py::",
            r"test_eval_judge\.py::test_judge_prompt_bombs",
        ],
    ),
    (
        "hostile-outputs",
        "model outputs, names and event text are inert in terminal, reports, PR comments, judges, viewer",
        [
            r"test_rel_untrusted\.py::test_(hostile_model_output|garbage_judge)",
            r"test_rel_names\.py",
            r"test_report_formats\.py::",
            r"test_report_browser\.py::",
            r"test_ci\.py::test_annotation",
            r"test_eval_judge\.py::",
            r"viewer/test_app\.py::",
            r"test_workflows\.py::",
            r"test_export_csv_injection\.py::",
            r"test_app_hardening\.py::test_(only_allowed_host|llmctl_view_on_all|a_case_id_with_a_newline)",
        ],
    ),
    (
        "damaged-stores",
        "foreign, truncated, newer or odd stores; a full disk",
        [
            r"test_rel_disk\.py",
            r"test_rel_untrusted\.py::test_bad_store_file",
            r"test_bad_inputs\.py::test_bad_input\[(store-|corrupt-lockfile)",
            r"test_identify\.py::",
            r"store/test_schema\.py::",
            r"test_writer_coerce\.py::",
        ],
    ),
    (
        "kill-concurrency",
        "kill -9, SIGINT/SIGTERM, concurrent runs, resumes and writers",
        [
            r"test_rel_processes\.py",
            r"test_rel_resume_lock\.py",
            r"store/test_processes\.py::",
            r"test_labels_hardening\.py::test_(concurrent_|a_writer_that_lost|a_locked_labels)",
            r"test_app_hardening\.py::test_(a_slow_page|a_label_changed_in_another_tab)",
        ],
    ),
    (
        "promote-merge",
        "promote killed mid-way or refused, concurrent promotes, merges",
        [r"test_rel_promote\.py", r"test_merge\.py::", r"cli/test_promote\.py::", r"test_lockfile\.py::"],
    ),
    (
        "odd-servers",
        "faults, stale keep-alive, odd HTTP framings and response bodies",
        [
            r"test_rel_faults\.py",
            r"test_rel_keepalive\.py",
            r"test_rel_responses\.py",
            r"tests/models/test_models_(keepalive|http|response|client)\.py::",
        ],
    ),
    (
        "bad-input-files",
        "malformed prompt, evalset and config files; arbitrary text and bytes",
        [
            r"test_bad_inputs\.py::",
            r"test_properties\.py::",
            r"test_labels_hardening\.py::",
            r"test_app_hardening\.py::test_(a_bad_|the_compare_api)",
        ],
    ),
    (
        "hostile-answers",
        "answers that would lose a run, stall it or swamp memory: deep tool arguments, huge agent loops, "
        "slow scoring, litellm bodies and streams",
        [
            r"run/test_deep_tool_args\.py::",
            r"run/test_offload_scoring\.py::",
            r"run/test_agent_limits\.py::",
            r"models/test_models_litellm\.py::",
        ],
    ),
    (
        "safety-evasion",
        "secrets and personal data dressed to slip past the safety checks, user patterns that backtrack, "
        "red-team and moderation options",
        [r"evaluators/test_eval_safety\.py::", r"cli/test_redteam\.py::"],
    ),
]
OTHER = "uncategorised"


@dataclass
class Attack:
    nodeid: str
    outcome: str  # passed, failed, error, xfail, skipped
    seconds: float


@dataclass
class Row:
    category: str
    what: str
    held: list[Attack] = field(default_factory=list)
    not_held: list[Attack] = field(default_factory=list)
    skipped: list[Attack] = field(default_factory=list)

    @property
    def tried(self) -> int:
        return len(self.held) + len(self.not_held)

    @property
    def seconds(self) -> float:
        return sum(a.seconds for a in (*self.held, *self.not_held, *self.skipped))


def check_suites(suites: Iterable[str]) -> None:
    """No entry may contain another: pytest would collect its tests twice."""
    items = list(suites)
    for a in items:
        for b in items:
            if a != b and (b.startswith(a + "/") or b.startswith(a + "::")):
                raise SystemExit(f"attacks.py: SUITES entry {b!r} is inside {a!r}")
    dupes = {a for a in items if items.count(a) > 1}
    if dupes:
        raise SystemExit(f"attacks.py: SUITES entries listed twice: {sorted(dupes)}")


def category_of(nodeid: str) -> str:
    for name, _what, patterns in CATEGORIES:
        if any(re.search(p, nodeid) for p in patterns):
            return name
    return OTHER


def parse_junit(path: Path) -> list[Attack]:
    """Every test item in pytest's JUnit XML (junit_family=xunit1, which records each file)."""
    attacks = []
    for case in ET.parse(path).getroot().iter("testcase"):
        file = case.get("file") or ""
        classname, name = case.get("classname") or "", case.get("name") or ""
        module = file.removesuffix(".py").replace("/", ".")
        parts = [file]
        if classname.startswith(module + "."):
            parts += classname[len(module) + 1 :].split(".")
        nodeid = "::".join([*parts, name])
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed" if child.tag == "failure" else "error"
                break
            if child.tag == "skipped":
                outcome = "xfail" if child.get("type") == "pytest.xfail" else "skipped"
        attacks.append(Attack(nodeid, outcome, float(case.get("time") or 0)))
    return attacks


def tabulate(attacks: list[Attack]) -> list[Row]:
    rows = {name: Row(name, what) for name, what, _ in CATEGORIES}
    rows[OTHER] = Row(OTHER, "matched by no category in benchmarks/attacks.py")
    for attack in attacks:
        row = rows[category_of(attack.nodeid)]
        if attack.outcome == "passed":
            row.held.append(attack)
        elif attack.outcome == "skipped":
            row.skipped.append(attack)
        else:
            row.not_held.append(attack)
    return [r for r in rows.values() if r.tried or r.skipped]


def _ids(attacks: list[Attack], limit: int = 8) -> str:
    shown = [f"`{a.nodeid.rsplit('/', 1)[-1]}`" + (" (xfail)" if a.outcome == "xfail" else "") for a in attacks]
    more = f" and {len(shown) - limit} more" if len(shown) > limit else ""
    return ", ".join(shown[:limit]) + more or "—"


def table(rows: list[Row]) -> str:
    lines = [
        "| category | what | attacks tried | held | not held (ids) | skipped | s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        skipped = f"{len(r.skipped)}: {_ids(r.skipped, 3)}" if r.skipped else "0"
        lines.append(
            f"| {r.category} | {r.what} | {r.tried} | {len(r.held)} | {_ids(r.not_held)} | {skipped} "
            f"| {r.seconds:.0f} |"
        )
    tried = sum(r.tried for r in rows)
    held = sum(len(r.held) for r in rows)
    skipped_n = sum(len(r.skipped) for r in rows)
    lines.append(
        f"| **all** | | **{tried}** | **{held}** | {tried - held} | {skipped_n} | {sum(r.seconds for r in rows):.0f} |"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--write", action="store_true", help="write the table to benchmarks/RESULTS.md (replacing its section)"
    )
    parser.add_argument("--only", default="", help="comma-separated categories to report (all suites still run)")
    parser.add_argument("--pytest-arg", action="append", default=[], help="one more pytest argument (repeatable)")
    args = parser.parse_args(argv)
    check_suites(SUITES)
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "attacks.xml"
        cmd = [sys.executable, "-m", "pytest", "-p", "no:warnings", "-q", "-o", "junit_family=xunit1"]
        cmd += [f"--junitxml={xml}", *args.pytest_arg, *SUITES]
        print("running:", " ".join(cmd[1:]), file=sys.stderr, flush=True)
        proc = subprocess.run(cmd, cwd=REPO)
        if not xml.exists() or proc.returncode not in (0, 1):
            print(f"attacks.py: pytest exited {proc.returncode} without results", file=sys.stderr)
            return 2
        attacks = parse_junit(xml)
    elapsed = time.time() - started
    rows = tabulate(attacks)
    if args.only:
        wanted = {c.strip() for c in args.only.split(",") if c.strip()}
        rows = [r for r in rows if r.category in wanted]
    text = table(rows)
    print(text)
    if args.write:
        sys.path.insert(0, str(HERE))
        from run import machine  # benchmarks/run.py: CPU, Python, platform, commit, date

        m = machine()
        command = "python benchmarks/attacks.py " + " ".join(argv if argv is not None else sys.argv[1:])
        header = (
            "## Attacks tried and held (benchmarks/attacks.py)\n\n"
            f"- command: `{command.strip()}`\n"
            f"- machine: {m['nproc']} CPUs, {m['cpu']}, Python {m['python']}, {m['platform']}\n"
            f"- date: {m['date']}; llmctl commit {m['commit']}; took {elapsed:.0f} s\n"
            "- one attack = one collected test item (each parametrised case) of the suites in "
            "`benchmarks/attacks.py`; held = passed; xfail = a known gap, not held; skipped = not tried; "
            "s = seconds of test time\n\n"
        )
        write_section(header + text, RESULTS)
        print(f"wrote its section of {RESULTS}", file=sys.stderr)
    return 0 if all(not r.not_held for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
