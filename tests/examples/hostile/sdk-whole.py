# doclab: images=busybox
import subprocess

import docker

client = docker.from_env()
print(client.containers.run("busybox", "echo from the sdk", remove=True).decode().strip())
#> from the sdk
subprocess.run(["docker", "run", "--rm", "busybox", "echo", "from a child"], check=True)
#> from a child
