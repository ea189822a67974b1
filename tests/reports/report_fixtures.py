"""A small run with a regression, an error, a cached result and hostile model outputs."""

from __future__ import annotations

import pytest

from llmctl.config import GateConfig
from llmctl.gate import compare
from llmctl.types import CaseOutcome

# Each tries a different way out of its context. The script payloads, if they ever
# ran, would leave a mark the browser test looks for.
HOSTILE = {
    "script": "<script>document.title='PWNED';document.body.setAttribute('data-pwned','1')</script>",
    "img": "<img src=x onerror=\"document.body.setAttribute('data-pwned','img')\">",
    "textarea": "</textarea></pre></details><script>document.title='PWNED'</script>",
    "ansi": "\x1b[31mred\x1b[0m \x1b]0;evil title\x07 bell\x07 \x1b[2J cleared",
    "markdown": "```\n</details>\n[click](https://evil.example/x) ![img](https://evil.example/i.png) "
    "@octocat cc @github/security #1 <a href='https://evil.example'>a</a> www.evil.example",
    "xml": "bad \x00 \x01 \x0b \ufffe chars ]]> &amp; </failure>",
}


def outcome(case_id, passed, output, **kw):
    reasons = {} if passed else {"contains": kw.pop("reason", "expected 'refund'")}
    return CaseOutcome(
        prompt=kw.pop("prompt", "support/triage"),
        model=kw.pop("model", "openai/gpt-4o-mini"),
        case_id=case_id,
        passed=passed,
        output=output,
        reasons=reasons,
        evaluator_passed={"contains": passed},
        scores={"contains": float(passed)},
        cost_usd=kw.pop("cost_usd", 0.0002),
        latency_ms=kw.pop("latency_ms", 120.0),
        **kw,
    )


@pytest.fixture
def hostile_run():
    names = list(HOSTILE)
    baseline = [outcome(f"case-{n}", True, f"fine answer {n}") for n in names]
    baseline += [outcome(f"ok-{i}", True, "refund issued") for i in range(20)]
    candidate = [outcome(f"case-{n}", False, HOSTILE[n], reason=HOSTILE[n]) for n in names]
    candidate += [outcome(f"ok-{i}", True, "refund issued", cached=(i < 5)) for i in range(19)]
    candidate.append(outcome("ok-19", False, None, error="RateLimitError: 429 \x1b[31m<b>boom</b>"))
    verdict = compare(baseline, candidate, GateConfig(min_pass_rate=0.9))
    run = {"id": "run-42", "evalset": "triage", "commit": "abc123", "baseline": "origin/main"}
    return run, candidate, verdict
