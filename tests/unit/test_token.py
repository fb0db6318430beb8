"""The lab's admin token: created once, whatever number of daemons start at the same time."""

from __future__ import annotations

import threading

from doclab.lab.authz import session


def test_daemons_starting_together_get_one_token(tmp_path, monkeypatch):
    # `doclab up` starts its daemons in parallel threads; a shared temporary name once made one of them
    # fail with FileNotFoundError (CI, test_daemon_that_fails_to_start_shows_its_log)
    monkeypatch.setenv("DOCLAB_STATE", str(tmp_path / "state"))
    barrier = threading.Barrier(16)
    tokens: list[str] = []
    errors: list[BaseException] = []

    def start() -> None:
        barrier.wait()
        try:
            tokens.append(session.token())
        except BaseException as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(tokens)) == 1 and len(tokens[0]) == 48
    folder = tmp_path / "state" / "authz"
    assert sorted(p.name for p in folder.iterdir()) == ["token"]
    assert (folder / "token").stat().st_mode & 0o777 == 0o600
