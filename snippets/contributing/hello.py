# doclab: images=busybox
import docker

client = docker.from_env()
print(client.containers.run("busybox", "echo hello", remove=True))
#> b'hello\n'
