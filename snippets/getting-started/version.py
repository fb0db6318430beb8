import docker

client = docker.from_env()
server = client.version()
print(f"server {server['Version']}, API {server['ApiVersion']}")
#> server 20.10.24+dfsg1, API 1.41
print(f"{server['Os']}/{server['Arch']}")
#> linux/amd64
