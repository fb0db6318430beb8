import docker

client = docker.from_env()
server = client.version()
print(f"server {server['Version']}, API {server['ApiVersion']}")
#> server 26.1.5+dfsg1, API 1.45
print(f"{server['Os']}/{server['Arch']}")
#> linux/amd64
