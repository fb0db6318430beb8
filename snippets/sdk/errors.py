# doclab: images=busybox
import docker
from docker.errors import APIError, ContainerError, ImageNotFound, NotFound

client = docker.from_env()

# A non-zero exit from a foreground run() raises ContainerError.
try:
    client.containers.run("busybox", ["sh", "-c", "echo oops >&2; exit 3"])
except ContainerError as error:
    print(error.exit_status, error.stderr)
    #> 3 b'oops\n'
    error.container.remove()  # the container still exists without remove=True

# Anything the daemon answers with 404 is a NotFound ...
try:
    client.containers.get("sdk-no-such-container")
except NotFound as error:
    print(error.status_code, error.explanation)
    #> 404 No such container: sdk-no-such-container

# ... and ImageNotFound is a NotFound, which is an APIError.
print(issubclass(ImageNotFound, NotFound), issubclass(NotFound, APIError))
#> True True

# Other refusals are plain APIErrors, such as a name that is already taken.
first = client.containers.create("busybox", name="sdk-taken")
try:
    client.containers.create("busybox", name="sdk-taken")
except APIError as error:
    print(error.status_code, error.is_client_error())
    #> 409 True
finally:
    first.remove()
