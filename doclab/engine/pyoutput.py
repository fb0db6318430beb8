"""The `#>` output comments of a Python example: read them, and write them from a recorded run.

The format is pytest-examples': each line a program printed, as a `#> ` comment after the statement that
printed it. Unlike pytest-examples' print mock, what is compared is the whole output of the process
(stdout and stderr, the example's own and its children's), against all `#>` comments in order.
"""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass

MARK = "#>"


@dataclass(frozen=True)
class OutputComment:
    line: int  # 1-based line in the file
    text: str  # the printed line, without the `#> ` prefix


def output_comments(source: str) -> list[OutputComment]:
    """Every `#>` comment, in file order (real comments only: a `#>` inside a string is not one)."""
    found: list[OutputComment] = []
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return found
    for token in tokens:
        if token.type == tokenize.COMMENT and token.string.startswith(MARK):
            text = token.string[len(MARK) :]
            found.append(OutputComment(token.start[0], text.removeprefix(" ")))
    return found


def expected_output(source: str) -> str:
    return "".join(comment.text + "\n" for comment in output_comments(source))


def line_of_difference(source: str, expected_lines: list[str], actual_lines: list[str]) -> int:
    """The file line where the (normalised) output first differs: that `#>` comment, or the line after the
    last one when output is missing or extra."""
    comments = output_comments(source)
    for index, (want, got) in enumerate(zip(expected_lines, actual_lines, strict=False)):
        if want != got:
            return comments[index].line if index < len(comments) else _after_last(source, comments)
    index = min(len(expected_lines), len(actual_lines))
    if index < len(comments):
        return comments[index].line
    return _after_last(source, comments)


def _after_last(source: str, comments: list[OutputComment]) -> int:
    if comments:
        return comments[-1].line
    return max(len(source.splitlines()), 1)


def _statement_ends(tree: ast.AST) -> list[tuple[int, int, int, int]]:
    """(first line, last line, line to write after, indent) of every statement; compound statements write
    after their header, simple ones after their last line."""
    spans = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt):
            continue
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
            after = body[0].lineno - 1
        else:
            after = node.end_lineno or node.lineno
        spans.append((node.lineno, node.end_lineno or node.lineno, after, node.col_offset))
    return spans


def _where(spans: list[tuple[int, int, int, int]], line: int) -> tuple[int, int]:
    """Line to write after, and indent, for output printed while `line` ran: its innermost statement."""
    best = None
    for first, last, after, indent in spans:
        if first <= line <= last and (best is None or last - first < best[1] - best[0]):
            best = (first, last, after, indent)
    if best is None:
        return line, 0
    return best[2], best[3]


def record_output(source: str, chunks: list[tuple[int, str]]) -> str:
    """The source with its `#>` comments replaced by what each line printed in a live run.

    `chunks` are (line that was running, text it printed), in order. Output printed before the first line
    ran goes after line 1's statement; output of a line that ran more than once (a loop) is gathered."""
    tree = ast.parse(source)
    spans = _statement_ends(tree)
    placed: dict[int, tuple[int, list[str]]] = {}
    for line, text in chunks:
        after, indent = _where(spans, max(line, 1))
        entry = placed.setdefault(after, (indent, []))
        entry[1].append(text)
    old = {comment.line for comment in output_comments(source)}
    out: list[str] = []
    for number, text in enumerate(source.splitlines(), start=1):
        if number not in old:
            out.append(text)
        if number in placed:
            indent, texts = placed[number]
            printed = "".join(texts)
            for raw in printed.rstrip("\n").split("\n") if printed else []:
                printed_line = raw.rstrip()
                out.append(" " * indent + (f"{MARK} {printed_line}" if printed_line else MARK))
    return "\n".join(out) + "\n"
