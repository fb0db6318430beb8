# doclab: images=busybox
import docker

client = docker.from_env()

# PID 1 exits cleanly on SIGTERM, so `stop` does not have to wait for SIGKILL.
command = ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]

def state(container):
    container.reload()  # the model caches attrs; refresh them from the daemon
    return container.status, container.attrs["State"]["ExitCode"]

container = client.containers.create("busybox", command, name="sdk-lifecycle")
try:
    print(state(container))
    #> ('created', 0)
    container.start()
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
