"""Every mask: a live variant that must match the recording, and a near miss that must not."""

from __future__ import annotations

import pytest

from doclab.engine.normalize import MASKS, cap_lines, drift_diff, ids_expected, matches, normalize

A64 = "a163ab970a3f4208b8114c3df39d42731894776ff8e5fbac662cd2d825edb48a"
B64 = "9a0be498f9aa6e86ab3d1ede228f8b7bdfc18bccb8f492ae50d0784288836f82"

# (mask name, recorded, another run, near miss that must fail)
CASES = [
    ("digest", f"Untagged: x@sha256:{A64}\n", f"Untagged: x@sha256:{B64}\n", f"checksum sha256:{A64}\n"),
    ("digest", f"Digest: sha256:{A64}\n", f"Digest: sha256:{B64}\n", f"Digest: sha256:{A64[:-1]}0 extra\n"),
    ("digest", f'["busybox@sha256:{A64}"]\n', f'["busybox@sha256:{B64}"]\n', f'["busybox:sha256-{B64}"]\n'),
    ("digest", f"Deleted: sha256:{A64}\n", f"Deleted: sha256:{B64}\n", f"Removed: sha256:{B64}\n"),
    (
        "digest",
        f"#7 writing image sha256:{A64} done\n",
        f"#7 writing image sha256:{B64} done\n",
        "#7 writing image x\n",
    ),
    ("builder-id", " ---> f1a0d18679b8\n", " ---> 0c162511773b\n", " ---> f1a0d18679b8 extra\n"),
    ("builder-id", "Successfully built 0013f5f65b1c\n", "Successfully built 9fd36297aa59\n", "Built 9fd36297aa59\n"),
    ("builder-id", " ---> Running in 5146eb2b5f97\n", " ---> Running in 4367300275c6\n", "Running 4367300275c6\n"),
    (
        "builder-id",
        " ---> Removed intermediate container 1e08fd497515\n",
        " ---> Removed intermediate container 83d179d1f98a\n",
        "Removed container 83d179d1f98a\n",
    ),
    (
        "daemon-message-id",
        f"You cannot remove a running container {A64}\n",
        f"You cannot remove a running container {B64}\n",
        f"You cannot remove a stopped container {B64}\n",
    ),
    ("layer-id", "5eed6deb3aa1: Pull complete\n", "0f208e339422: Pull complete\n", "0f208e339422: done\n"),
    (
        "overlay-dir",
        f"/var/lib/docker/overlay2/{A64}/diff\n",
        f"/var/lib/docker/overlay2/{B64}/diff\n",
        f"/var/lib/docker/overlay/{B64}/diff\n",
    ),
    ("volume-name", f"volume {A64} -> /data\n", f"volume {B64} -> /data\n", f"volume {B64} -> /srv\n"),
    (
        "history-file-hash",
        "/bin/sh -c #(nop) ADD file:3d4c240fc68710393… in /\n",
        "/bin/sh -c #(nop) ADD file:9a0be498f9aa6e86a… in /\n",
        "/bin/sh -c #(nop) ADD file:9a0be498f9aa6e86a… in /srv\n",
    ),
    ("buildkit-done", "#5 DONE 0.3s\n", "#5 DONE 12.0s\n", "#6 DONE 0.3s\n"),
    (
        "buildkit-done",
        "#1 [internal] load build definition from Dockerfile\n#1 DONE 0.0s\n",
        "#1 [internal] load build definition from Dockerfile\n#1 DONE 0.1s\n",
        "#1 [internal] load build definition from Dockerfile.dev\n#1 DONE 0.1s\n",
    ),
    (
        "buildkit-step-time",
        f"#3 extracting sha256:{A64} 0.1s done\n",
        f"#3 extracting sha256:{A64} 0.4s done\n",
        f"#3 extracting sha256:{B64} 0.1s done\n",
    ),
    ("buildkit-elapsed", "#5 0.215 hello\n", "#5 0.377 hello\n", "#5 0.377 hellp\n"),
    (
        "buildkit-building",
        "[+] Building 1.2s (8/8) FINISHED\n",
        "[+] Building 31.0s (8/8) FINISHED\n",
        "[+] Building 1.2s (7/8) FINISHED\n",
    ),
    ("status-up", "Up 3 seconds\n", "Up About a minute\n", "Up 3 seconds (Paused)\n"),
    ("time-ago", "Exited (0) 2 seconds ago\n", "Exited (0) Less than a second ago\n", "Exited (1) 2 seconds ago\n"),
    (
        "timestamp",
        "2026-11-28T01:12:43.754142344Z tick 4\n",
        "2027-01-02T10:00:00.1Z tick 4\n",
        "2027-01-02T10:00:00.1Z tick 5\n",
    ),
    ("go-time", "2026-11-28 01:12:43 +0000 UTC\n", "2027-01-02 10:00:00 +0000 UTC\n", "2027-01-02 10:00:00\n"),
    ("virtual-size", "2B (virtual 1.99MB)\n", "2B (virtual 2.5MB)\n", "3B (virtual 2.5MB)\n"),
    ("stats-usage", "limited 752KiB / 64MiB\n", "limited 324KiB / 64MiB\n", "limited 324KiB / 512MiB\n"),
    (
        "push-size",
        f"v1: digest: sha256:{A64} size: 735\n",
        f"v1: digest: sha256:{B64} size: 527\n",
        f"v2: digest: sha256:{B64} size: 527\n",
    ),
    ("generated-name", "vibrant_hopper\n", "zen_turing\n", "vibrant-hopper\n"),
    ("lab-address", "10.201.0.2\n", "10.203.0.5\n", "10.1.0.2\n"),
    ("bridge-address", "172.17.0.2\n", "172.18.0.3\n", "192.168.0.3\n"),
    ("workdir", "/tmp/doclab-abc123/work/x\n", "/tmp/doclab-zz9/work/x\n", "/tmp/other/work/x\n"),
]


@pytest.mark.parametrize(("name", "recorded", "live", "near_miss"), CASES, ids=[c[0] for c in CASES])
def test_mask_covers_the_field_and_nothing_next_to_it(name, recorded, live, near_miss):
    assert matches(recorded, live), normalize(recorded) + normalize(live)
    assert not matches(recorded, near_miss), normalize(near_miss)


def test_every_mask_has_a_case():
    assert {m.name for m in MASKS} <= {c[0] for c in CASES}


# The hostile cases of issue 12: what a checksum, a limit or a log line says is compared exactly.
@pytest.mark.parametrize(
    ("recorded", "live"),
    [
        (f"{A64}  /data/file\n", f"{B64}  /data/file\n"),  # sha256sum of a file
        ("64m\n", "512m\n"),
        ("memory.max: 67108864\n", "memory.max: 536870912\n"),
        ("waited 5s for the server\n", "waited 90s for the server\n"),
        ("slept 5 seconds\n", "slept 90 seconds\n"),
        ("1.99MB\n", "2.50MB\n"),
        ("total 64K\n", "total 512K\n"),
        ("12:00:00\n", "13:30:00\n"),
        ("happy_path done\n", "sad_path done\n"),
        ("built 5 minutes ago\n", "built 90 minutes ago\n"),
        ("it is Up 5 seconds now\n", "it is Up 90 seconds now\n"),
        ("container 0123456789ab started\n", "container ba9876543210 started\n"),
        ("#5 0.215 slept 5.0s done\n", "#5 0.377 slept 90.0s done\n"),
        ("f1a0d18679b8 is the answer\n", "0c162511773b is the answer\n"),
    ],
)
def test_values_outside_dockers_fields_are_compared_exactly(recorded, live):
    assert not matches(recorded, live)


def test_a_whole_line_of_hex_is_an_id_only_where_docker_printed_it():
    assert matches(f"{A64}\n", f"{B64}\n", id_lines=True)
    assert matches(f"sha256:{A64}\n", f"sha256:{B64}\n", id_lines=True)  # `docker build -q`, `docker commit`
    assert not matches(f"sha256:{A64}\n", f"sha256:{B64}\n", id_lines=False)  # no docker: content
    assert not matches(f"{A64}\n", f"{B64}\n", id_lines=False)
    assert ids_expected("docker run -d --name web nginx")
    assert not ids_expected("sha256sum data/file | cut -c1-64")
    assert not ids_expected('docker run --rm -v "$PWD":/d busybox sha256sum /d/file | cut -c1-64')
    assert not ids_expected("echo aaaa")


def test_tables_mask_id_and_size_columns_only():
    recorded = (
        "REPOSITORY   TAG       IMAGE ID       CREATED         SIZE\n"
        "busybox      latest    f1a0d18679b8   4 minutes ago   1.99MB\n"
    )
    live = (
        "REPOSITORY   TAG       IMAGE ID       CREATED              SIZE\n"
        "busybox      latest    0c162511773b   About a minute ago   2.01MB\n"
    )
    assert matches(recorded, live)
    assert not matches(recorded, live.replace("latest", "v1.0.0"))
    assert not matches(recorded, live.replace("busybox ", "busyb0x "))


def test_table_near_miss_size_outside_the_size_column():
    recorded = 'CONTAINER ID   IMAGE     COMMAND       NAMES\nf1a0d18679b8   busybox   "echo 64m"   web\n'
    live = 'CONTAINER ID   IMAGE     COMMAND       NAMES\n0c162511773b   busybox   "echo 512m"   web\n'
    assert not matches(recorded, live)
    assert matches(recorded, live.replace("512m", "64m"))


def test_history_table_masks_the_image_column():
    header = "IMAGE          CREATED          CREATED BY                                      SIZE      COMMENT\n"
    recorded = header + 'e0b5a3172716   2 seconds ago    /bin/sh -c #(nop)  CMD ["hello"]                0B\n'
    live = header + '<missing>      3 minutes ago    /bin/sh -c #(nop)  CMD ["hello"]                0B\n'
    assert matches(recorded, live)
    assert not matches(recorded, live.replace("hello", "hellp"))


def test_padding_and_trailing_blanks_do_not_count_but_words_do():
    assert matches("a   b  \n\n", "a  b\n")
    assert not matches("a b\n", "ab\n")
    assert normalize("") == ""


def test_the_diff_is_capped_with_a_note():
    recorded = "".join(f"line {i}\n" for i in range(70_000))
    live = "".join(f"other {i}\n" for i in range(70_000))
    diff = drift_diff(recorded, live, "x.console:2: $ cmd")
    assert len(diff.splitlines()) <= 62
    assert "more lines" in diff
    assert diff.startswith("--- x.console:2: $ cmd (recorded)\n")


def test_cap_lines_leaves_short_text_alone():
    assert cap_lines("a\nb\n", 5) == "a\nb\n"
    assert cap_lines("a\nb\nc\n", 2) == "a\nb\n... (1 more lines cut; the diff had 3 lines)\n"
