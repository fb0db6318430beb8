# doclab: images=busybox
import docker

client = docker.from_env()
labels = {"course": "docker-notes"}
started = [
    client.containers.run(
        "busybox", "sleep 300", detach=True, name=f"sdk-ex-{n}", labels=labels
    )
    for n in (1, 2)
]
try:
    running = client.containers.list(filters={"label": "course=docker-notes"})
    for container in sorted(running, key=lambda c: c.name):
        print(container.name, container.image.tags)
        #> sdk-ex-1 ['busybox:latest']
        #> sdk-ex-2 ['busybox:latest']
finally:
    for container in started:
        container.remove(force=True)
