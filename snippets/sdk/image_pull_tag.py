# doclab: images=busybox
import json
import urllib.request

import docker

client = docker.from_env()

# `docker pull busybox:latest`: returns the pulled Image.
image = client.images.pull("busybox", tag="latest")
print(image.tags)
#> ['busybox:latest']

# `docker tag busybox 127.0.0.1:5000/sdk/busybox:v1`: one image, two names.
image.tag("127.0.0.1:5000/sdk/busybox", "v1")
image.reload()
print(sorted(image.tags))
#> ['127.0.0.1:5000/sdk/busybox:v1', 'busybox:latest']

# `docker push 127.0.0.1:5000/sdk/busybox:v1`: the daemon streams JSON status
# objects. A failed push does not raise: the error arrives in the stream.
statuses = list(
    client.images.push("127.0.0.1:5000/sdk/busybox", tag="v1", stream=True, decode=True)
)
errors = [status["error"] for status in statuses if "error" in status]
if errors:
    raise RuntimeError(errors[0])
print(statuses[0]["status"])
#> The push refers to repository [127.0.0.1:5000/sdk/busybox]
pushed = next(status["aux"] for status in statuses if "aux" in status)
print(pushed["Tag"], sorted(pushed))
#> v1 ['Digest', 'Size', 'Tag']

# Ask the registry itself (its HTTP API) which tags it now holds.
url = "http://127.0.0.1:5000/v2/sdk/busybox/tags/list"
with urllib.request.urlopen(url) as response:
    print(json.load(response))
    #> {'name': 'sdk/busybox', 'tags': ['v1']}
