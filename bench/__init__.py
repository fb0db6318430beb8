"""Benchmarks of the doclab engine, the lab and the site build (`make bench`, see bench/README.md)."""
