from doclab.cli import run

run()
