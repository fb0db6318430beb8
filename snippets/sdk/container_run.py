# doclab: images=busybox,nginx
import re
import time
import urllib.request

import docker

client = docker.from_env()

# `docker run --rm busybox echo hello`: waits, returns the output as bytes.
print(client.containers.run("busybox", "echo hello", remove=True))
#> b'hello\n'

# `docker run -d --name sdk-web -p 127.0.0.1:8081:80 nginx`
web = client.containers.run(
    "nginx", detach=True, name="sdk-web", ports={"80/tcp": ("127.0.0.1", 8081)}
)
try:
    print(web.name, web.status)  # a snapshot taken when it was created
    #> sdk-web created
    web.reload()  # ask the daemon again
    print(web.name, web.status)
    #> sdk-web running
    print(web.ports)
    #> {'80/tcp': [{'HostIp': '127.0.0.1', 'HostPort': '8081'}]}

    for _ in range(20):  # nginx needs a moment to start listening
        try:
            with urllib.request.urlopen("http://127.0.0.1:8081/") as response:
                html = response.read().decode()
            break
        except OSError:
            time.sleep(0.25)
    print(re.search(r"<title>(.*)</title>", html).group(1))
    #> Welcome to nginx!
finally:
    web.remove(force=True)  # `docker rm -f sdk-web`, even if something failed
