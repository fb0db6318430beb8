# doclab: images=busybox
import docker

client = docker.from_env()

# Every high-level client carries a low-level one: client.api.
api = client.api
print(type(api).__name__, api.api_version)
#> APIClient 1.45

# One method per REST endpoint; containers are plain dicts and IDs.
created = api.create_container("busybox", "echo from the low-level API")
print(sorted(created))
#> ['Id', 'Warnings']
api.start(created["Id"])
print(api.wait(created["Id"]))
#> {'StatusCode': 0}
print(api.logs(created["Id"]))
#> b'from the low-level API\n'
print(api.inspect_container(created["Id"])["State"]["Status"])
#> exited
api.remove_container(created["Id"])
