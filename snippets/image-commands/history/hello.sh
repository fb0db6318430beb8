#!/bin/sh
echo "Hello from an image built by docker build"
