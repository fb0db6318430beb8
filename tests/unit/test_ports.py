"""Host ports an example publishes, from its text and its fixtures, and the machine-wide locks on them."""

from __future__ import annotations

import threading
import time

from doclab.engine.ports import holding, published_ports


def test_ports_from_the_cli_the_sdk_and_compose_files():
    text = (
        "$ docker run -d -p 127.0.0.1:8080:80 nginx\n$ docker run -p 9090:80 x\n$ docker run --publish=7070:80 x\n"
        'c = client.containers.run("nginx", ports={"80/tcp": ("127.0.0.1", 8081)})\n'
        'd = client.containers.run("nginx", ports={"80/tcp": 8082})\n'
    )
    compose = (
        'services:\n  web:\n    ports:\n      - "127.0.0.1:8083:80"\n      - 8084:80\n    x:\n      published: 8085\n'
    )
    assert published_ports(text, [compose]) == {8080, 9090, 7070, 8081, 8082, 8083, 8084, 8085}


def test_near_misses_are_not_ports():
    assert published_ports("$ docker run --rm busybox echo 8080:80\n$ docker run -e P=1:2 x\n") == set()
    assert published_ports("$ docker run busybox sleep 300\n", ["- ./data:/data\n"]) == set()


def test_one_port_is_held_by_one_holder_at_a_time(tmp_path):
    order = []

    def hold(name):
        with holding([8080], tmp_path):
            order.append(f"{name} in")
            time.sleep(0.2)
            order.append(f"{name} out")

    threads = [threading.Thread(target=hold, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert order in (["a in", "a out", "b in", "b out"], ["b in", "b out", "a in", "a out"])
