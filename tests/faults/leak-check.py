import os

print(sorted(k for k in os.environ if any(w in k.upper() for w in ("TOKEN", "SECRET", "AWS", "SSH"))))
#> []
