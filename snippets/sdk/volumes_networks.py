# doclab: images=busybox,nginx
import re
import time

import docker
from docker.errors import ContainerError

client = docker.from_env()

# `docker volume create` and `docker network create`
volume = client.volumes.create("sdk-data")
network = client.networks.create("sdk-net", driver="bridge")
try:
    print(volume.name, volume.attrs["Driver"], network.name, network.attrs["Driver"])
    #> sdk-data local sdk-net bridge

    # Data in a named volume outlives the container that wrote it.
    mount = {"sdk-data": {"bind": "/data", "mode": "rw"}}
    client.containers.run(
        "busybox", ["sh", "-c", "echo kept > /data/note"], volumes=mount, remove=True
    )
    note = client.containers.run(
        "busybox", "cat /data/note", volumes=mount, remove=True
    )
    print(note)
    #> b'kept\n'

    # On a user-defined network, containers find each other by name.
    web = client.containers.run(
        "nginx", detach=True, name="sdk-net-web", network="sdk-net"
    )
    try:
        network.reload()
        print([container.name for container in network.containers])
        #> ['sdk-net-web']
        for _ in range(20):  # retry until nginx listens
            try:
                page = client.containers.run(
                    "busybox",
                    ["wget", "-qO-", "http://sdk-net-web/"],
                    network="sdk-net",
                    remove=True,
                )
                break
            except ContainerError:
                time.sleep(0.25)
        print(re.search(rb"<title>(.*)</title>", page).group(1))
        #> b'Welcome to nginx!'
    finally:
        web.remove(force=True)
finally:
    network.remove()
    volume.remove()
