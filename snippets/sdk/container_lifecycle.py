# doclab: images=busybox
import time

import docker

client = docker.from_env()

# PID 1 exits cleanly on SIGTERM, so `stop` does not have to wait for SIGKILL.
# It prints "ready" once the trap is set: a SIGTERM sent before that would find no handler.
command = ["sh", "-c", "trap 'exit 0' TERM; echo ready; while true; do sleep 1; done"]

def state(container):
    container.reload()  # the model caches attrs; refresh them from the daemon
    return container.status, container.attrs["State"]["ExitCode"]

container = client.containers.create("busybox", command, name="sdk-lifecycle")
try:
    print(state(container))
    #> ('created', 0)
    container.start()
    while b"ready" not in container.logs():  # wait until the trap is set
        time.sleep(0.1)
    print(state(container))
    #> ('running', 0)
    container.pause()
    print(state(container))
    #> ('paused', 0)
    container.unpause()
    print(state(container))
    #> ('running', 0)
    container.stop()  # SIGTERM, then SIGKILL after 10 s
    print(state(container))
    #> ('exited', 0)
    container.restart()
    print(state(container))
    #> ('running', 0)
    container.kill()  # SIGKILL at once: 128 + 9
    print(state(container))
    #> ('exited', 137)
finally:
    container.remove(force=True)

print(client.containers.list(all=True, filters={"name": "sdk-lifecycle"}))
#> []
