# doclab: images=busybox,nginx
import docker

client = docker.from_env()

# `docker image ls`: every image on the daemon, as Image objects.
base_tags = sorted(
    tag
    for image in client.images.list()
    for tag in image.tags
    if tag.split(":")[0] in ("busybox", "nginx")
)
print(base_tags)
#> ['busybox:latest', 'nginx:bookworm', 'nginx:latest']

# `docker image inspect nginx`: .attrs holds the same JSON.
nginx = client.images.get("nginx:latest")
print(nginx.tags)
#> ['nginx:bookworm', 'nginx:latest']
print(nginx.attrs["Config"]["Cmd"])
#> ['nginx', '-g', 'daemon off;']
print(nginx.attrs["Config"]["ExposedPorts"])
#> {'80/tcp': {}}
