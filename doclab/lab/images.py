"""The base images: written reproducibly from the recipes, pushed to the lab registry under Docker Hub's
names (library/...), and pulled through the mirror onto each lab daemon.

A recipe is a folder under recipes/ with a recipe.json: its tags, how its root filesystem is made
(busybox, hello-world, debian, or "from" another recipe plus Debian packages), its `docker history`
rows and its image config. busybox and hello-world come out byte for byte the same on every machine;
Debian-based images change when Debian publishes updates, so their digests and package versions are
recorded in images.json for the report.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from doclab import lazy
from doclab.errors import DoclabError
from doclab.lab import dockerbin, layers, ociimage, paths, registry, rootfs
from doclab.lab.progress import Reporter

if TYPE_CHECKING:
    import docker

RECIPES = Path(__file__).parent / "recipes"
# Every base image's `created`: fixed, so that the config (and so the image ID) is the same everywhere.
EPOCH = 1735689600  # 2025-01-01T00:00:00Z
FORMAT = 4  # bump when the way images are written changes: every image is then written again


@dataclass(frozen=True)
class Recipe:
    name: str
    folder: Path
    spec: dict = field(compare=False, hash=False)

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(self.spec["tags"])

    @property
    def parent(self) -> str | None:
        return self.spec.get("from")


def all_recipes() -> dict[str, Recipe]:
    found = {}
    for folder in sorted(p for p in RECIPES.iterdir() if (p / "recipe.json").is_file()):
        try:
            spec = json.loads((folder / "recipe.json").read_text())
        except ValueError as error:
            raise DoclabError(f"{folder / 'recipe.json'}: not valid JSON: {error}") from None
        found[folder.name] = Recipe(folder.name, folder, spec)
    return found


def selected_recipes(wanted_names: tuple[str, ...] = ()) -> list[Recipe]:
    """The recipes to seed (`wanted_names` or all), parents included, parents first."""
    recipes = all_recipes()
    wanted = list(wanted_names) or list(recipes)
    ordered: list[Recipe] = []

    def visit(name: str) -> None:
        if name not in recipes:
            raise DoclabError(f"DOCLAB_IMAGES names {name!r}, but there is no recipe {RECIPES / name}")
        recipe = recipes[name]
        if recipe.parent:
            visit(recipe.parent)
        if recipe not in ordered:
            ordered.append(recipe)

    for name in wanted:
        visit(name)
    return ordered


def wanted_images() -> tuple[str, ...]:
    from doclab.config import Settings

    return Settings.from_env().images


def recipe_hash(recipe: Recipe, parent_hash: str, inputs: str) -> str:
    """Content hash of the recipe folder, chained to its parent's and to what it is made from."""
    digest = hashlib.sha256(f"{FORMAT}\0{EPOCH}\0{inputs}\0{parent_hash}\0".encode())
    for file in sorted(p for p in recipe.folder.rglob("*") if p.is_file()):
        digest.update(f"{file.relative_to(recipe.folder)}\0{file.stat().st_mode & 0o111:o}\0".encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def split(tag: str) -> tuple[str, str]:
    repository, _, version = tag.partition(":")
    return repository, version or "latest"


def registry_repository(tag: str) -> str:
    return f"library/{split(tag)[0]}"


def load_state() -> dict:
    try:
        state = json.loads(paths.images_state_file().read_text())
        if state.get("format") == FORMAT:
            return state
    except (OSError, ValueError):
        pass
    return {"format": FORMAT, "images": {}}


def save_state(state: dict) -> None:
    file = paths.images_state_file()
    file.parent.mkdir(parents=True, exist_ok=True)
    temporary = file.with_suffix(".tmp")
    temporary.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    temporary.replace(file)


def base_images() -> list[str]:
    """Every tag the lab seeds, e.g. ["busybox:latest", ...]."""
    return [tag for recipe in selected_recipes(wanted_images()) for tag in recipe.tags]


def pinned() -> dict[str, str]:
    """tag -> image ID of every base image the lab wrote: what a verification daemon must hold."""
    records = load_state()["images"]
    return {tag: record["image_id"] for record in records.values() for tag in record["tags"]}


class Seeder:
    """Writes what changed, pushes it to the lab registry, and records digests and package versions."""

    def __init__(self, reporter: Reporter, trees: Path | None = None) -> None:
        self.reporter = reporter
        self.trees = trees or paths.rootfs_cache()
        self.registry = registry.address()
        self.state = load_state()
        self.built: list[str] = []
        self.chain = dockerbin.toolchain()
        self._images: dict[str, ociimage.Image] = {}
        self._fresh_trees: set[str] = set()  # made by prepare_debian() in this run: not made again
        self._lock = threading.Lock()  # guards _locks
        self._locks: dict[str, threading.Lock] = {}  # one per recipe: image_of() makes each image once

    def prepare_debian(self) -> None:
        """mmdebstrap for a stale Debian root, which needs nothing of the lab's Docker: `up` runs it
        while the Docker packages download, the two longest steps of a first `up` side by side."""
        for recipe in selected_recipes(wanted_images()):
            if recipe.spec.get("rootfs") != "debian":
                continue
            record = self.state["images"].get(recipe.name, {})
            if record.get("hash") == recipe_hash(recipe, "", "") and self._tree(recipe).is_dir():
                continue
            with self.reporter.step(f"mmdebstrap {recipe.spec.get('suite', 'bookworm')} for {recipe.tags[0]}"):
                self._make_tree(recipe, self._tree(recipe))
            self._fresh_trees.add(recipe.name)

    def seed(self) -> list[str]:
        recipes = selected_recipes(wanted_images())
        hashes: dict[str, str] = {}
        todo: list[Recipe] = []
        for recipe in recipes:
            hashes[recipe.name] = recipe_hash(recipe, hashes.get(recipe.parent or "", ""), self._inputs(recipe))
            if not self._is_current(recipe, hashes[recipe.name]):
                todo.append(recipe)
        # A parent's tree is made before its children copy it (prepare_debian() has usually made it already).
        parents = {r.parent for r in todo if r.parent}
        for recipe in todo:
            if recipe.name in parents and recipe.name not in self._fresh_trees:
                self._make_tree(recipe, self._tree(recipe))
                self._fresh_trees.add(recipe.name)
        # Then all at once: the roots' layers are written while the derived images' apt-get runs in their
        # chroots (a derived image waits for its parent's image only to take its history, at the very end).
        if todo:
            with ThreadPoolExecutor(max_workers=len(todo)) as pool:
                for future in [pool.submit(self._write, r, hashes[r.name]) for r in todo]:
                    future.result()
        return self.built

    def _inputs(self, recipe: Recipe) -> str:
        """What a recipe is made from besides its folder: busybox's package version."""
        if recipe.spec.get("rootfs") == "busybox":
            return self.chain.versions().get("packages", {}).get("busybox-static", "")
        return ""

    def _is_current(self, recipe: Recipe, content_hash: str) -> bool:
        record = self.state["images"].get(recipe.name)
        if not record or record.get("hash") != content_hash:
            return False
        return all(
            registry.manifest_digest(registry_repository(tag), split(tag)[1]) == record.get("digest")
            for tag in recipe.tags
        )

    def _tree(self, recipe: Recipe) -> Path:
        return self.trees / recipe.name

    def _write(self, recipe: Recipe, content_hash: str) -> None:
        with self.reporter.step(f"write {recipe.tags[0]}"):
            image = self.image_of(recipe, rebuild=True)
            for tag in recipe.tags:
                ociimage.push(self.registry, registry_repository(tag), [split(tag)[1]], image)
        record = {
            "hash": content_hash,
            "tags": list(recipe.tags),
            "digest": image.digest,
            "image_id": image.image_id,
            "packages": _package_versions(self._tree(recipe)),
        }
        with self._lock:  # the images are written in parallel threads; the state file is written by one at a time
            self.state["images"][recipe.name] = record
            save_state(self.state)
            self.built.append(recipe.tags[0])

    def image_of(self, recipe: Recipe, rebuild: bool) -> ociimage.Image:
        """The image of a recipe, its tree made anew when `rebuild` or when it is not on disk. Threads may ask
        for the same recipe at once (a parent and its children): one makes it, the others wait for it."""
        with self._lock:
            lock = self._locks.setdefault(recipe.name, threading.Lock())
        with lock:
            if recipe.name not in self._images:
                self._images[recipe.name] = self._image(recipe, rebuild)
            return self._images[recipe.name]

    def _image(self, recipe: Recipe, rebuild: bool) -> ociimage.Image:
        tree = self._tree(recipe)
        parent = all_recipes()[recipe.parent] if recipe.parent else None
        if parent is not None and not self._tree(parent).is_dir():
            self.image_of(parent, rebuild=True)
        if (rebuild and recipe.name not in self._fresh_trees) or not tree.is_dir():
            self._make_tree(recipe, tree)
        if parent is None:
            layer = layers.build(tree, EPOCH)
        else:
            changed, removed = layers.changes(self._tree(parent), tree)
            layer = layers.build(tree, EPOCH, only=changed, removed=removed)
        parent_image = self.image_of(parent, rebuild=False) if parent is not None else None
        steps = list(parent_image.steps) if parent_image else []
        for row in recipe.spec["history"]:
            text = row["created_by"].replace("{layer}", layer.diff_id.split(":")[1]).replace("{epoch}", str(EPOCH))
            steps.append(ociimage.Step(text, layer if row.get("layer") else None, row.get("comment", "")))
        return ociimage.Image(steps=steps, config=recipe.spec["config"], epoch=EPOCH)

    def _make_tree(self, recipe: Recipe, tree: Path) -> None:
        kind = recipe.spec.get("rootfs")
        if kind == "busybox":
            rootfs.busybox(tree, self.chain.root / "bin" / "busybox")
        elif kind == "hello-world":
            rootfs.hello_world(tree, recipe.folder / "hello.c")
        elif kind == "debian":
            rootfs.debian(tree, recipe.spec.get("suite", "bookworm"), EPOCH, recipe.spec.get("include", []))
        elif recipe.parent:
            rootfs.derive(
                self._tree(all_recipes()[recipe.parent]),
                tree,
                recipe.spec.get("packages", []),
                recipe.spec.get("commands", []),
                EPOCH,
            )
        else:
            raise DoclabError(f"{recipe.folder / 'recipe.json'}: set `rootfs` or `from`")
        for source, target, *mode in recipe.spec.get("files", []):
            destination = tree / target.lstrip("/")
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(recipe.folder / source, destination)
            destination.chmod(int(mode[0], 8) if mode else 0o644)


def _package_versions(tree: Path) -> dict[str, str]:
    """Debian packages in an image's tree, name -> version (empty for images without dpkg)."""
    admin = tree / "var/lib/dpkg"
    if not admin.is_dir():
        return {}
    listing = subprocess.run(
        ["dpkg-query", f"--admindir={admin}", "-W", "-f", "${Package}\t${Version}\n"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return dict(line.split("\t", 1) for line in listing.splitlines() if "\t" in line)


def provision(client: docker.DockerClient, wanted: dict[str, str], reporter: Reporter) -> list[str]:
    """Pulls each tag through the mirror unless the daemon already has it as the pinned image ID.
    An older image those tags pointed to is removed once nothing else names it."""
    pulled = []
    for tag, image_id in sorted(wanted.items()):
        old = None
        try:
            current = client.images.get(tag)
            if current.id == image_id:
                continue
            old = current.id
        except lazy.ImageNotFound:
            pass
        repository, version = split(tag)
        for chunk in client.api.pull(repository, version, stream=True, decode=True):
            if "error" in chunk:
                raise DoclabError(f"pulling {tag} through the lab mirror failed: {chunk['error']}")
            reporter.detail(f"{tag}: {chunk.get('status', '')} {chunk.get('progress', '')}")
        pulled.append(tag)
        if old:
            try:
                if not client.images.get(old).tags:
                    client.images.remove(old)
            except lazy.APIError:
                pass
    return pulled
