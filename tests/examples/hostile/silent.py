import docker

client = docker.from_env()
client.ping()
#> Hello
