# doclab: timeout=120
chunk = "flood " * 200_000
for _ in range(400):
    print(chunk)
