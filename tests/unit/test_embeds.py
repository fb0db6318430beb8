"""One way to embed an example: every other include form, and every unverified Docker block, is an error."""

from __future__ import annotations

import os
import textwrap

import pytest

from doclab.engine.embeds import find_includes, render_page, resolve_snippet, scan_page
from doclab.errors import LocatedError

FENCE = "```"
ONE_FORM = 'embed an example only as a ```console or ```python block holding one line `--8<-- "section/name.console"`'


def page(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n").replace("'''", FENCE)


def errors(text: str) -> list[str]:
    return [str(e) for e in scan_page(page(text), "docs/p.en.md").errors]


def test_the_blessed_form_is_an_include_and_no_error():
    text = page(
        """
        Intro

        '''console
        --8<-- "containers/run.console"
        '''

        === "Python"

            '''python
            --8<-- "sdk/run.py"
            '''
        """
    )
    scan = scan_page(text, "docs/p.en.md")
    assert scan.errors == ()
    assert [(i.line, i.lang, i.path, i.indent) for i in scan.includes] == [
        (4, "console", "containers/run.console", ""),
        (10, "python", "sdk/run.py", "    "),
    ]
    assert [i.path for i in find_includes(text)] == ["containers/run.console", "sdk/run.py"]


# Forms pymdownx.snippets accepts (or look-alikes), each an error at its line.
@pytest.mark.parametrize(
    ("body", "line", "what"),
    [
        ("'''console\n---8<--- \"a/b.console\"\n'''\n", 2, "unsupported include form '---8<--- \"a/b.console\"'"),
        ("'''console\n-8<- \"a/b.console\"\n'''\n", 2, "unsupported include form '-8<- \"a/b.console\"'"),
        ("'''console\n;--8<-- \"a/b.console\"\n'''\n", 2, "unsupported include form ';--8<-- \"a/b.console\"'"),
        ("'''console\n--8<--\na/b.console\n--8<--\n'''\n", 2, "an include must be the only line of its code block"),
        ('--8<-- "a/b.console"\n', 1, "an include outside a code block"),
        ('    --8<-- "a/b.console"\n', 1, "an include outside a code block"),
        ('> --8<-- "a/b.console"\n', 1, "an include outside a code block"),
        ("--8<-- [start:part]\n", 1, "an include outside a code block"),
        ("'''console\n--8<-- \"a/b.console:2:5\"\n'''\n", 2, "include path 'a/b.console:2:5' is not an example"),
        ("'''console\n--8<-- \"a/b.console:part\"\n'''\n", 2, "include path 'a/b.console:part' is not an example"),
        ("'''console\n--8<-- \"../../etc/shadow.console\"\n'''\n", 2, "include path '../../etc/shadow.console'"),
        ("'''console\n--8<-- \"a/../../x.console\"\n'''\n", 2, "include path 'a/../../x.console'"),
        ("'''console\n--8<-- \"/etc/shadow\"\n'''\n", 2, "include path '/etc/shadow'"),
        (
            "'''console\n--8<-- \"https://example.com/x.console\"\n'''\n",
            2,
            "include path 'https://example.com/x.console'",
        ),
        ("'''console\n--8<-- 'a/b.console'\n'''\n", 2, "unsupported include form"),
        ("'''console\n--8<--  \"a/b.console\"\n'''\n", 2, "unsupported include form"),
        ("'''console\n  --8<-- \"a/b.console\"\n'''\n", 2, "the include must be indented like its fence"),
        ("'''console\n--8<-- \"a/b.console\"\n$ echo extra\n'''\n", 2, "an include must be the only line"),
        ("'''python\n--8<-- \"a/b.console\"\n'''\n", 2, "a ```python block must embed a .py example"),
        ("'''text\n--8<-- \"a/b.console\"\n'''\n", 1, "include in a ```text block"),
        ("'''\n--8<-- \"a/b.console\"\n'''\n", 1, "include in a ``` block"),
        ('````console\n--8<-- "a/b.console"\n````\n', 1, "include in a ```console block"),
        ('~~~console\n--8<-- "a/b.console"\n~~~\n', 1, "include in a ```console block"),
        ("'''console title=\"x\"\n--8<-- \"a/b.console\"\n'''\n", 1, 'include in a ```console title="x" block'),
        ("'''console\n--8<-- \"a/b.console\"\n", 2, "an include must be the only line"),  # never closed
        ("'''{ .console .illustration }\n--8<-- \"a/b.console\"\n'''\n", 2, "an illustration cannot include"),
    ],
)
def test_every_other_include_form_is_an_error_at_its_line(body, line, what):
    found = errors(body)
    assert len(found) == 1, found
    assert found[0].startswith(f"docs/p.en.md:{line}: {what}"), found[0]


def test_include_errors_say_the_one_form():
    assert errors('--8<-- "a/b.console"\n') == [f"docs/p.en.md:1: an include outside a code block: {ONE_FORM}"]


@pytest.mark.parametrize(
    ("body", "line", "what"),
    [
        ("'''console\n$ docker run --rm busybox echo hi\nhi\n'''\n", 1, "a `console` block"),
        ("'''shell-session\n$ docker ps\n'''\n", 1, "a `shell-session` block"),
        ("'''{ .console }\n$ docker ps\n'''\n", 1, "a `console` block"),
        (
            "'''python\nimport docker\nprint(docker.from_env().ping())\n#> True\n'''\n",
            1,
            "a Python block that uses Docker",
        ),
        ("'''py\nd = __import__('docker')\n'''\n", 1, "a Python block that uses Docker"),
        ("'''bash\n$ docker run busybox echo hi\nhi\n'''\n", 2, "a `$ docker` transcript line"),
        ("'''text\necho\n$ sudo docker ps\n'''\n", 3, "a `$ docker` transcript line"),
        ("'''\n$ DOCKER_HOST=x docker ps\n'''\n", 2, "a `$ docker` transcript line"),
        ("Some text\n\n    $ docker run busybox echo hi\n    hi\n", 3, "a `$ docker` transcript line"),
        ("<pre><code>$ docker run busybox echo hi\nhi</code></pre>\n", 1, "a `$ docker` transcript line"),
    ],
)
def test_an_unverified_docker_block_is_an_error(body, line, what):
    found = errors(body)
    assert len(found) == 1, found
    assert found[0].startswith(f"docs/p.en.md:{line}: {what} that is not an example"), found[0]


def test_unverified_block_message_says_how_to_mark_it():
    assert errors("'''python\nimport docker\n'''\n") == [
        (
            "docs/p.en.md:1: a Python block that uses Docker that is not an example: move it to snippets/ and embed it, "
            "or mark it ```{ .python .illustration } if it cannot run"
        )
    ]


@pytest.mark.parametrize(
    "body",
    [
        "'''{ .console .illustration }\n$ docker search nginx\nNAME  DESCRIPTION\n'''\n",
        "'''{ .python .illustration }\nimport docker\n'''\n",
        "'''bash\nsudo apt-get install -y docker.io\ndocker run --rm busybox echo ok\n'''\n",
        "'''python\nprint('no engine here')\n'''\n",
        "'''dockerfile\nFROM busybox\nRUN echo hi\n'''\n",
        # quoted page source shows the include syntax; nothing processes it
        "````markdown\n'''console\n--8<-- \"sdk/run_cli.console\"\n'''\n````\n",
        "Prose that costs $ 5 and mentions docker.\n",
    ],
)
def test_what_is_not_an_error(body):
    assert errors(body) == []


def test_render_replaces_the_include_with_the_parsed_example():
    text = page(
        """
        '''console
        --8<-- "a/b.console"
        '''

        === "CLI"

            '''console
            --8<-- "a/c.console"
            '''
        """
    )
    shown = {"a/b.console": "$ echo hi\nhi\n", "a/c.console": "$ echo there\nthere\n"}
    rendered, scan = render_page(text, "docs/p.en.md", lambda inc: shown[inc.path], "en")
    assert scan.errors == ()
    assert rendered == page(
        """
        '''console
        $ echo hi
        hi
        '''

        === "CLI"

            '''console
            $ echo there
            there
            '''
        """
    )


def test_an_example_cannot_close_the_fence_it_is_shown_in():
    text = page("'''console\n--8<-- \"a/b.console\"\n'''\nafter\n")
    rendered, _ = render_page(text, "p.md", lambda _inc: "$ cat x.md\n```\n<script>alert(1)</script>\n", "en")
    assert rendered == "````console\n$ cat x.md\n```\n<script>alert(1)</script>\n````\nafter\n"


def test_render_labels_illustrations_in_the_page_language():
    text = page("'''{ .console .illustration }\n$ docker search nginx\n'''\n")
    zh, _ = render_page(text, "p.zh.md", lambda _inc: "", "zh")
    en, _ = render_page(text, "p.en.md", lambda _inc: "", "en")
    assert zh.splitlines()[0] == '```{ .console .illustration title="示意，未运行" }'
    assert en.splitlines()[0] == '```{ .console .illustration title="illustration, not run" }'
    assert zh.splitlines()[1:] == ["$ docker search nginx", "```"]


def test_render_shows_a_failed_lookup_in_place_and_reports_it():
    text = page("'''console\n--8<-- \"a/missing.console\"\n'''\n")

    def missing(include):
        raise LocatedError("docs/p.en.md", include.line, "missing example snippets/a/missing.console")

    rendered, scan = render_page(text, "docs/p.en.md", missing, "en")
    assert [str(e) for e in scan.errors] == ["docs/p.en.md:2: missing example snippets/a/missing.console"]
    assert "snippets/a/missing.console" in rendered
    assert "--8<--" not in rendered


def test_resolve_refuses_a_symlink_out_without_reading_it(tmp_path):
    snippets = tmp_path / "snippets"
    (snippets / "a").mkdir(parents=True)
    outside = tmp_path / "secret"
    os.mkfifo(outside)  # reading a FIFO with no writer would hang: the test passing shows it was not read
    (snippets / "a" / "evil.console").symlink_to(outside)
    with pytest.raises(LocatedError) as caught:
        resolve_snippet(snippets, "a/evil.console", "docs/p.en.md", 7)
    assert str(caught.value) == (
        f"docs/p.en.md:7: refused: snippets/a/evil.console resolves to {outside}, outside snippets/ (a symlink out); "
        "not read"
    )
    assert (caught.value.path, caught.value.line) == ("docs/p.en.md", 7)


def test_resolve_refuses_a_symlinked_folder_out_and_non_files(tmp_path):
    snippets = tmp_path / "snippets"
    snippets.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.console").write_text("$ echo hi\nhi\n")
    (snippets / "linked").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(LocatedError, match="outside snippets/"):
        resolve_snippet(snippets, "linked/x.console", "p.md", 1)
    (snippets / "dir.console").mkdir()
    with pytest.raises(LocatedError, match="is not a regular file"):
        resolve_snippet(snippets, "dir.console", "p.md", 1)
    with pytest.raises(LocatedError, match=r"missing example snippets/nope\.console"):
        resolve_snippet(snippets, "nope.console", "p.md", 1)
    (snippets / "ok.console").write_text("$ echo\n\n")
    (snippets / "inside.console").symlink_to(snippets / "ok.console")
    assert resolve_snippet(snippets, "inside.console", "p.md", 1) == (snippets / "ok.console").resolve()


@pytest.mark.parametrize(
    ("body", "line"),
    [
        ("'''\nuser@host:~$ docker run busybox echo hi\nhi\n'''\n", 2),
        ("'''text\nroot@box:/# docker ps\n'''\n", 2),
        ("'''\nimport docker\nprint(docker.from_env().ping())\n'''\n", 1),
        ("'''pycon\n>>> import docker\n'''\n", 1),
        ("'''text\nfrom docker import from_env\n'''\n", 1),
    ],
)
def test_other_prompts_and_sdk_code_in_any_block_are_errors(body, line):
    found = errors(body)
    assert len(found) == 1, found
    assert found[0].startswith(f"docs/p.en.md:{line}: "), found[0]


def test_the_site_must_not_include_files_itself():
    from doclab.engine.embeds import snippets_extension_error

    assert snippets_extension_error(["admonition", "pymdownx.superfences"]) is None
    assert snippets_extension_error(["pymdownx.snippets"]) == (
        "mkdocs.yml enables pymdownx.snippets, which would show files the checker does not verify: "
        "remove it (doclab renders each `--8<--` example itself)"
    )


def test_the_projects_mkdocs_yml_does_not_enable_snippets():
    from pathlib import Path

    config = (Path(__file__).resolve().parents[2] / "mkdocs.yml").read_text(encoding="utf-8")
    assert "pymdownx.snippets" not in config
