import os

os.system("echo Hellp")
#> Hello
