"""Results of a check run: one record per example, a summary line and the JSON report."""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from doclab.errors import DoclabError

STATUSES = ("passed", "failed", "skipped", "cached")


@dataclass(frozen=True)
class Result:
    """One example's verdict, built once by the checker from the runner's Outcome."""

    path: str
    kind: str
    status: str
    reason: str = ""
    line: int | None = None
    seconds: float = 0.0
    commands: list[str] = field(default_factory=list)
    message: str = ""
    detail: str = ""
    daemon: str = ""

    @property
    def executed(self) -> bool:
        return self.status in ("passed", "failed") and self.seconds > 0


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)
    daemon_version: str = ""
    docker_host: str = ""
    started_at: str = ""
    finished_at: str = ""
    seconds: float = 0.0
    versions: dict[str, str] = field(default_factory=dict)  # the lab's: engine, cli, buildx, compose, ...

    def counts(self) -> dict[str, int]:
        return {status: sum(r.status == status for r in self.results) for status in STATUSES}

    @property
    def executed(self) -> int:
        return sum(r.executed for r in self.results)

    @property
    def ok(self) -> bool:
        return not any(r.status == "failed" for r in self.results)

    def summary_line(self) -> str:
        c = self.counts()
        return (
            f"doclab: {len(self.results)} examples: {c['passed']} passed, {c['failed']} failed, "
            f"{c['skipped']} skipped, {c['cached']} cached in {self.seconds:.1f}s"
        )

    def to_dict(self) -> dict:
        return {
            "daemon_version": self.daemon_version,
            "docker_host": self.docker_host,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "seconds": round(self.seconds, 3),
            "versions": self.versions,
            "summary": self.counts() | {"total": len(self.results), "executed": self.executed},
            "examples": [asdict(r) | {"seconds": round(r.seconds, 3)} for r in self.results],
        }

    def write(self, path: Path) -> None:
        """Write atomically; an unwritable report is an expected failure with one clear line."""
        tmp = path.with_name(path.name + ".tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
            os.replace(tmp, path)
        except OSError as error:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            raise DoclabError(
                f"cannot write the report to {path}: {error.strerror or error} (choose another path with --report)"
            ) from None

    @classmethod
    def read(cls, path: Path) -> Report:
        data = json.loads(path.read_text(encoding="utf-8"))
        results = [Result(**{k: v for k, v in r.items() if k in Result.__dataclass_fields__}) for r in data["examples"]]
        return cls(
            results=results,
            daemon_version=data.get("daemon_version", ""),
            docker_host=data.get("docker_host", ""),
            started_at=data.get("started_at", ""),
            finished_at=data.get("finished_at", ""),
            seconds=data.get("seconds", 0.0),
            versions={str(k): str(v) for k, v in (data.get("versions") or {}).items()},
        )


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
