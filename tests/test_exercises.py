"""Each hands-on page ends with two or three exercises whose solutions are verified examples, collapsed.

Checked on the sources (no daemon): the last section is 练习 / Exercises, it holds two or three
`??? success "答案"` / `??? success "Solution"` blocks, and each block embeds exactly one example that
exists under snippets/ (so `doclab check` runs it like any other example).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from doclab.engine.embeds import find_includes

ROOT = Path(__file__).resolve().parent.parent
HANDS_ON = ("getting-started", "dockerfile", "instructions", "registry", "image-commands", "container-commands", "sdk")
HEADING = {"zh": "## 练习", "en": "## Exercises"}
SOLUTION = {"zh": '??? success "答案"', "en": '??? success "Solution"'}


def exercise_problems(markdown: str, lang: str, snippets: Path) -> list[str]:
    """What is wrong with a page's exercises, one line each; empty when they are as promised."""
    sections = re.split(r"(?m)^(?=## )", markdown)
    last = sections[-1]
    if not last.startswith(HEADING[lang] + "\n"):
        return [f"the last section is not {HEADING[lang]!r}"]
    blocks = re.split(r"(?m)^(?=\?\?\? )", last)[1:]
    problems = []
    if not 2 <= len(blocks) <= 3:
        problems.append(f"{len(blocks)} solutions: a hands-on page has two or three exercises")
    for number, block in enumerate(blocks, start=1):
        if not block.startswith(SOLUTION[lang] + "\n"):
            problems.append(f"solution {number} is not a collapsed {SOLUTION[lang]!r} block")
        includes = find_includes(block)
        if len(includes) != 1:
            problems.append(f"solution {number} embeds {len(includes)} examples, not one")
        problems += [
            f"solution {number}: snippets/{i.path} is missing" for i in includes if not (snippets / i.path).is_file()
        ]
    return problems


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("name", HANDS_ON)
def test_hands_on_page_ends_with_verified_exercises(name: str, lang: str) -> None:
    page = ROOT / "docs" / f"{name}.{lang}.md"
    problems = exercise_problems(page.read_text(encoding="utf-8"), lang, ROOT / "snippets")
    assert not problems, f"docs/{page.name}: " + "; ".join(problems)


def test_exercise_check_catches_a_solution_that_is_not_an_example() -> None:
    page = '## 练习\n\n**练习 1**\n\n??? success "答案"\n    ```console\n    $ docker ps\n    ```\n'
    problems = exercise_problems(page, "zh", ROOT / "snippets")
    assert "1 solutions: a hands-on page has two or three exercises" in problems
    assert "solution 1 embeds 0 examples, not one" in problems
