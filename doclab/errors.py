"""Expected failures: each carries one line that tells the user what happened and what to do."""


class DoclabError(Exception):
    """An expected failure. The CLI prints str(error) on one line, never a traceback."""

    exit_code = 1


class DaemonUnavailable(DoclabError):
    """No Docker daemon answers at the configured DOCKER_HOST."""

    exit_code = 3
