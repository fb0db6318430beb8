# doclab: images=busybox
import docker

client = docker.from_env()
container = client.containers.run(
    "busybox", ["sh", "-c", "echo working; exit 3"], detach=True
)
try:
    result = container.wait()  # blocks until the main process ends
    print(result["StatusCode"])
    #> 3
    print(container.logs().decode().strip())
    #> working
finally:
    container.remove()
