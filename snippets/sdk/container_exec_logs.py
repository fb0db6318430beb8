# doclab: images=busybox
import docker

client = docker.from_env()

box = client.containers.run(
    "busybox", ["sh", "-c", "echo started; sleep 300"], detach=True, name="sdk-exec"
)
try:
    # `docker exec sdk-exec cat /etc/hostname`: a second process in the container.
    result = box.exec_run("cat /etc/hostname")
    print(result.exit_code)
    #> 0
    # the hostname is the container's short ID
    print(result.output.decode().strip() == box.id[:12])
    #> True

    # exec_run does not raise on failure: check exit_code yourself.
    result = box.exec_run("cat /no/such/file")
    print(result.exit_code, result.output)
    #> 1 b"cat: can't open '/no/such/file': No such file or directory\n"

    # `docker logs sdk-exec`: what PID 1 printed so far.
    print(box.logs())
    #> b'started\n'
finally:
    box.remove(force=True)

# `docker logs -f`: follow a container until it exits.
job = client.containers.run(
    "busybox",
    ["sh", "-c", "for i in 1 2 3; do echo line $i; sleep 1; done"],
    detach=True,
    name="sdk-logs",
)
try:
    for chunk in job.logs(stream=True, follow=True):
        print(chunk.decode().rstrip())
        #> line 1
        #> line 2
        #> line 3
    print(job.wait())
    #> {'StatusCode': 0}
finally:
    job.remove(force=True)
