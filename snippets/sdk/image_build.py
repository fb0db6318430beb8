# doclab: images=busybox
import io

import docker

client = docker.from_env()

dockerfile = b"""\
FROM busybox
CMD ["echo", "hello from an SDK-built image"]
"""

# `docker build -t sdk-hello:1.0 -`: the Dockerfile comes from memory.
image, build_log = client.images.build(
    fileobj=io.BytesIO(dockerfile), tag="sdk-hello:1.0", rm=True
)
for chunk in build_log:
    line = chunk.get("stream", "").rstrip()
    if line:
        print(line)
        #> Step 1/2 : FROM busybox
        #>  ---> 23499017895a
        #> Step 2/2 : CMD ["echo", "hello from an SDK-built image"]
        #>  ---> Running in 3c3ff9d5af0d
        #>  ---> Removed intermediate container 3c3ff9d5af0d
        #>  ---> 05a7a4ab0606
        #> Successfully built 05a7a4ab0606
        #> Successfully tagged sdk-hello:1.0

print(image.tags)
#> ['sdk-hello:1.0']
print(client.containers.run(image, remove=True))
#> b'hello from an SDK-built image\n'
