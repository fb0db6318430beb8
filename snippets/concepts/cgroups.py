# doclab: images=busybox
import docker

client = docker.from_env()
limited = client.containers.run(
    "busybox", "sleep 300", name="limited-py", detach=True, mem_limit="64m"
)
limited.reload()
print(limited.attrs["HostConfig"]["Memory"])
#> 67108864
stats = limited.stats(stream=False)
print(stats["memory_stats"]["limit"])
#> 67108864
