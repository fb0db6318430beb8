# doclab: images=busybox
import docker

client = docker.from_env()
print(client.containers.run("busybox", "echo from the sdk", remove=True).decode().strip())
#> from the sdk
