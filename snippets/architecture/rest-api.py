# doclab: images=busybox
import docker

client = docker.from_env()
print(client.version()["ApiVersion"])
#> 1.45
client.containers.run("busybox", "sleep 300", name="api-demo-py", detach=True)
for c in client.api.containers(filters={"name": "api-demo-py"}):
    print(c["Names"], c["Image"], c["State"])
    #> ['/api-demo-py'] busybox running
