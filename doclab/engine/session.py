"""A site's verification: the examples its pages embed, verified once, and the report the site renders.

One session lives as long as the process that builds the site. It remembers each example's result
by (path, content hash), so mkdocs-static-i18n's build of each language and every `mkdocs serve`
rebuild run only the examples that changed. `verify()` gives a `SiteReport`: the results the pages
show, the summary line and `verification.json`. With `verify="report"` nothing runs: the results
come from the report `doclab check` wrote, which is the seam a move to another site generator
would keep (CONTRIBUTING, "The next base").
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from doclab.engine.example import Example, load_example
from doclab.engine.facts import LabFacts
from doclab.engine.report import Report, Result, now_iso
from doclab.engine.runner import Checker
from doclab.errors import DoclabError

Mode = Literal["auto", "off", "report"]
# what a page can say about one example: the engine's statuses, and "unverified" when nothing judged it
Status = Literal["passed", "cached", "failed", "skipped", "unverified"]


@dataclass(frozen=True)
class Embed:
    """One include of an example in a page."""

    page: str  # the page's source, relative to the project root: "docs/images.en.md"
    line: int
    example: str  # relative to the project root: "snippets/images/layers.console"


@dataclass
class SiteReport:
    """One build's verification, as the site shows it and as verification.json records it."""

    verified: bool  # every embedded example was judged (run, cached or read from a report)
    why_not: str  # why not, in one line ("" when verified)
    source: Literal["run", "report", "off"]
    report: Report  # the engine's report over every embedded example: versions, times, results
    embeds: list[Embed]
    versions: dict[str, str] = field(default_factory=dict)  # "engine", and "cli", "buildx", "compose" when known
    problems: list[str] = field(default_factory=list)  # one line each, for the build log as errors

    def status(self, example: str) -> Status:
        result = self.result(example)
        return "unverified" if result is None else result.status  # type: ignore[return-value]

    def result(self, example: str) -> Result | None:
        return next((r for r in self.report.results if r.path == example), None)

    def examples_of(self, page: str) -> list[str]:
        return [e.example for e in self.embeds if e.page == page]

    def pages_of(self, example: str) -> list[str]:
        return [f"{e.page}:{e.line}" for e in self.embeds if e.example == example]

    def summary_line(self) -> str:
        if self.verified:
            return self.report.summary_line()
        return f"doclab: {len({e.example for e in self.embeds})} examples not verified: {self.why_not}"

    def to_dict(self) -> dict[str, object]:
        data = self.report.to_dict()
        examples = {e["path"]: e for e in data.pop("examples")}
        every = sorted({e.example for e in self.embeds})
        return data | {
            "verified": self.verified,
            "why_not_verified": self.why_not,
            "source": self.source,
            "versions": self.versions,
            "summary_line": self.summary_line(),
            "examples": [
                examples.get(path, {"path": path, "status": "unverified", "reason": self.why_not})
                | {"pages": self.pages_of(path)}
                for path in every
            ],
            "pages": {page: self.examples_of(page) for page in sorted({e.page for e in self.embeds})},
        }

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


@dataclass
class VerificationSession:
    """Verifies a site's examples; create one per process and call verify() for each build."""

    root: Path
    facts: Callable[[], LabFacts] | None = None  # the lab's facts, asked for only when examples run
    mode: Mode = "auto"
    snippets: str = "snippets"  # examples must be files inside this folder of the root
    jobs: int = 1
    report_file: Path = Path(".doclab/report.json")  # what `doclab check` wrote, read when mode == "report"
    on_result: Callable[[Result], None] | None = None  # progress, one call per example run
    _memo: dict[tuple[str, str], Result] = field(default_factory=dict)

    def verify(self, embeds: list[Embed]) -> SiteReport:
        started = time.monotonic()
        examples, results, problems = self._load({e.example for e in embeds}, embeds)
        report = Report(results=list(results), started_at=now_iso())
        versions: dict[str, str] = {}
        source: Literal["run", "report", "off"] = "off" if self.mode == "off" else "run"
        why_not = "DOCLAB_VERIFY=off" if self.mode == "off" else ""
        try:
            if self.mode == "report":
                source = "report"
                versions = self._read_report(report, examples)
            elif self.mode == "auto":
                self._run(report, examples)
                versions = report.versions
        except DoclabError as error:  # no daemon (DaemonUnavailable) included: the recorded output is shown
            report.results, why_not = list(results), str(error)
        if not why_not:
            missing = sorted(set(examples) - {r.path for r in report.results})
            if missing:
                why_not = f"no result for {missing[0]} and {len(missing) - 1} more in {self.report_file}"
                why_not = why_not.replace(" and 0 more", "") + "; run `doclab check`"
        problems += [
            self._failure_line(r, embeds) for r in report.results if r.status == "failed" and r.path in examples
        ]
        report.results.sort(key=lambda r: r.path)
        report.finished_at = report.finished_at or now_iso()
        report.seconds = time.monotonic() - started
        if report.daemon_version:
            versions = {"engine": report.daemon_version} | versions
        return SiteReport(
            verified=not why_not,
            why_not=why_not,
            source=source,
            report=report,
            embeds=embeds,
            versions=versions,
            problems=problems,
        )

    # -- steps ---------------------------------------------------------------
    def _load(self, paths: set[str], embeds: list[Embed]) -> tuple[dict[str, Example], list[Result], list[str]]:
        """Parse each example once; a missing or malformed one is a failed result and one line naming it."""
        examples: dict[str, Example] = {}
        results: list[Result] = []
        problems: list[str] = []
        for path in sorted(paths):
            file = self.root / path
            if not file.is_file() and not file.is_symlink():
                continue  # the page reports it, at the include's line
            try:
                examples[path] = load_example(file, self.root / self.snippets)
            except DoclabError as error:
                where = ", ".join(f"{e.page}:{e.line}" for e in embeds if e.example == path)
                problems.append(f"{error} (embedded in {where})")
                results.append(Result(path=path, kind="", status="failed", reason=str(error), message=str(error)))
        return examples, results, problems

    def _run(self, report: Report, examples: dict[str, Example]) -> None:
        if self.facts is None:
            raise DoclabError("no lab to run the examples on (the session was given no lab facts)")
        facts = self.facts()
        checker = Checker(facts, jobs=self.jobs, on_result=self.on_result)  # facts.hosts: never the playground
        report.versions = dict(facts.versions)
        report.docker_host = checker.docker_host or ""
        report.daemon_version = checker.probe()  # DaemonUnavailable: one line, nothing ran
        todo = []
        for path, example in examples.items():
            known = self._memo.get((path, example.content_hash))
            if known is None:
                todo.append(path)
            else:  # judged earlier in this process and unchanged since
                report.results.append(replace(known, status="cached", seconds=0.0))
        if todo:
            ran = checker.run([self.root / p for p in todo])
            report.daemon_version = ran.daemon_version or report.daemon_version
            for found in ran.results:
                result = replace(found, path=self._relative(found.path))
                report.results.append(result)
                key = (result.path, examples[result.path].content_hash)
                if result.status == "failed":
                    self._memo.pop(key, None)
                else:
                    self._memo[key] = result

    def _read_report(self, report: Report, examples: dict[str, Example]) -> dict[str, str]:
        """Fill `report` from the one `doclab check` wrote; returns the tool versions it records."""
        file = self.root / self.report_file
        if not file.is_file():
            raise DoclabError(f"{self.report_file}: no report to render; run `doclab check` first")
        try:
            written = Report.read(file)
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise DoclabError(f"{self.report_file}: not a doclab report ({error}); run `doclab check` again") from None
        report.daemon_version, report.docker_host = written.daemon_version, written.docker_host
        report.started_at, report.finished_at = written.started_at, written.finished_at
        for result in written.results:
            path = self._relative(result.path)
            if path in examples:
                report.results.append(replace(result, path=path))
        return written.versions

    def _relative(self, path: str) -> str:
        """The engine reports paths as given; the site keys them relative to the project root."""
        candidate = Path(path)
        if candidate.is_absolute():
            return candidate.resolve().relative_to(self.root.resolve()).as_posix()
        return candidate.as_posix()

    @staticmethod
    def _failure_line(result: Result, embeds: list[Embed]) -> str:
        where = ", ".join(f"{e.page}:{e.line}" for e in embeds if e.example == result.path)
        head = result.message or f"{result.path}:{result.line or 1}: failed"
        reason = f" ({result.reason})" if result.reason and result.reason not in head else ""
        detail = "".join(f"\n    {line}" for line in (result.detail or "").strip("\n").splitlines()[-40:])
        return f"{head}{reason} — embedded in {where}{detail}"
