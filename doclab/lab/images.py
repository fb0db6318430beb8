"""The base images: built locally from the recipes, pushed to the lab registry under Docker Hub's
names (library/...), and pulled through the mirror onto each lab daemon."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

from doclab.errors import DoclabError
from doclab.lab import paths, registry
from doclab.lab.engine_install import static_busybox
from doclab.lab.progress import Reporter

RECIPES = Path(__file__).parent / "recipes"
SKIP_EXIT = 3  # a prepare.sh that cannot work on this host exits 3: the image is skipped
LABEL_SOURCE = "org.opencontainers.image.source"


@dataclass(frozen=True)
class Recipe:
    name: str
    folder: Path
    tags: tuple[str, ...]  # "busybox:latest", ...; the first is the main one
    parent: str | None  # the image of its FROM line, None for scratch


def all_recipes() -> dict[str, Recipe]:
    found = {}
    for folder in sorted(p for p in RECIPES.iterdir() if (p / "Dockerfile").exists()):
        tags = tuple(line.strip() for line in (folder / "tags").read_text().splitlines() if line.strip())
        base = re.search(
            r"^FROM\s+(\S+)",
            (folder / "Dockerfile").read_text(),
            re.MULTILINE | re.IGNORECASE,
        )
        parent = base.group(1) if base and base.group(1) != "scratch" else None
        found[folder.name] = Recipe(folder.name, folder, tags, parent)
    return found


def selected_recipes() -> list[Recipe]:
    """The recipes to seed (DOCLAB_IMAGES or all), parents included, parents first."""
    recipes = all_recipes()
    by_tag = {tag: recipe for recipe in recipes.values() for tag in recipe.tags}
    wanted = [name.strip() for name in os.environ.get("DOCLAB_IMAGES", "").split(",") if name.strip()] or list(recipes)
    ordered: list[Recipe] = []

    def visit(name: str) -> None:
        if name not in recipes:
            raise DoclabError(f"DOCLAB_IMAGES names {name!r}, but there is no recipe {RECIPES / name}")
        recipe = recipes[name]
        if recipe.parent:
            if recipe.parent not in by_tag:
                raise DoclabError(f"recipe {name} is FROM {recipe.parent}, which no recipe builds")
            visit(by_tag[recipe.parent].name)
        if recipe not in ordered:
            ordered.append(recipe)

    for name in wanted:
        visit(name)
    return ordered


def recipe_hash(recipe: Recipe, parent_hash: str | None) -> str:
    """Content hash of the recipe folder, chained to its parent image's hash."""
    digest = hashlib.sha256()
    for file in sorted(p for p in recipe.folder.rglob("*") if p.is_file()):
        digest.update(f"{file.relative_to(recipe.folder)}\0{file.stat().st_mode & 0o111:o}\0".encode())
        digest.update(file.read_bytes())
    digest.update((parent_hash or "").encode())
    return digest.hexdigest()


def split(tag: str) -> tuple[str, str]:
    repository, _, version = tag.partition(":")
    return repository, version or "latest"


def registry_repository(tag: str) -> str:
    return f"library/{split(tag)[0]}"


def load_state() -> dict:
    try:
        return json.loads(paths.images_state_file().read_text())
    except (OSError, ValueError):
        return {"images": {}, "skipped": {}}


def save_state(state: dict) -> None:
    file = paths.images_state_file()
    file.parent.mkdir(parents=True, exist_ok=True)
    temporary = file.with_suffix(".tmp")
    temporary.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    temporary.replace(file)


def base_images() -> list[str]:
    """Every tag the lab seeds, e.g. ["busybox:latest", ...], without images skipped on this host."""
    skipped = load_state().get("skipped", {})
    return [tag for recipe in selected_recipes() if recipe.name not in skipped for tag in recipe.tags]


def host_debian_mirror() -> tuple[str, str]:
    """The Debian mirror (and security mirror) the host's apt uses, for debootstrap."""
    mirror, security = (
        "http://deb.debian.org/debian",
        "http://deb.debian.org/debian-security",
    )
    texts = []
    for file in [
        Path("/etc/apt/sources.list"),
        *sorted(Path("/etc/apt/sources.list.d").glob("*")),
    ]:
        if file.suffix in (".list", ".sources") and file.is_file():
            texts.append(file.read_text(errors="replace"))
    entries: list[tuple[str, list[str]]] = []
    for text in texts:
        for line in text.splitlines():  # one-line format: deb [opts] URI SUITE COMPONENTS
            words = re.sub(r"\[[^]]*\]", "", line).split()
            if len(words) >= 3 and words[0] == "deb":
                entries.append((words[1], [words[2]]))
        for stanza in re.split(r"\n\s*\n", text):  # deb822 format
            fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, re.MULTILINE))
            if "deb" in fields.get("Types", "").split() and "URIs" in fields:
                entries.append((fields["URIs"].split()[0], fields.get("Suites", "").split()))
    for uri, suites in entries:
        if "bookworm" in suites:
            mirror = uri.rstrip("/")
        if "bookworm-security" in suites:
            security = uri.rstrip("/")
    return mirror, security


class Seeder:
    """Builds what changed on the main daemon, pushes it, and leaves the daemon tidy."""

    def __init__(self, client: docker.DockerClient, reporter: Reporter) -> None:
        self.client = client
        self.reporter = reporter
        self.registry = registry.address()
        self.state = load_state()
        self.built: list[str] = []

    def seed(self) -> list[str]:
        hashes: dict[str, str] = {}  # by tag
        for recipe in selected_recipes():
            content_hash = recipe_hash(recipe, hashes.get(recipe.parent or ""))
            hashes.update(dict.fromkeys(recipe.tags, content_hash))
            if self.state.get("skipped", {}).get(recipe.name) == content_hash:
                continue
            if not self._is_current(recipe, content_hash):
                self._build_and_push(recipe, content_hash)
            if recipe.name in self.state["images"]:
                self._ensure_on_daemon(recipe)
        return self.built

    def _is_current(self, recipe: Recipe, content_hash: str) -> bool:
        record = self.state["images"].get(recipe.name)
        if not record or record.get("hash") != content_hash:
            return False
        return all(
            registry.manifest_digest(registry_repository(tag), split(tag)[1]) == record.get("digest")
            for tag in recipe.tags
        )

    def _ensure_on_daemon(self, recipe: Recipe) -> None:
        record = self.state["images"][recipe.name]
        provision(self.client, recipe.tags, record["image_id"], self.reporter)

    def _build_and_push(self, recipe: Recipe, content_hash: str) -> None:
        self._remove_helper_tags(recipe)
        before = {image.id for image in self.client.images.list(all=True)}
        with tempfile.TemporaryDirectory(prefix=f"doclab-{recipe.name}-", dir="/var/tmp") as context:
            shutil.copytree(recipe.folder, context, dirs_exist_ok=True)
            if (Path(context) / "prepare.sh").exists():
                title = "debootstrap bookworm (minbase)" if recipe.name == "debian" else f"prepare {recipe.name}"
                with self.reporter.step(title):
                    if not self._prepare(recipe, Path(context)):
                        self.state.setdefault("skipped", {})[recipe.name] = content_hash
                        save_state(self.state)
                        return
            with self.reporter.step(f"build {recipe.tags[0]}"):
                try:
                    image_id = self._build(recipe, Path(context))
                except DoclabError:
                    self._remove_new_dangling(before)
                    raise
        with self.reporter.step(f"push {', '.join(recipe.tags)}"):
            digest = self._push(recipe, image_id)
        self.state.setdefault("skipped", {}).pop(recipe.name, None)
        self.state["images"][recipe.name] = {
            "hash": content_hash,
            "tags": list(recipe.tags),
            "digest": digest,
            "image_id": image_id,
            "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        save_state(self.state)
        self.built.append(recipe.tags[0])

    def _prepare(self, recipe: Recipe, context: Path) -> bool:
        mirror, security = host_debian_mirror()
        env = {
            **os.environ,
            "DOCLAB_DEBIAN_MIRROR": mirror,
            "DOCLAB_DEBIAN_SECURITY": security,
            "DOCLAB_BUSYBOX": static_busybox() or "/bin/busybox",
        }
        process = subprocess.Popen(
            ["sh", "prepare.sh"],
            cwd=context,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        tail: list[str] = []
        assert process.stdout is not None
        for line in process.stdout:
            self.reporter.detail(line)
            tail = (tail + [line.strip()])[-4:]
        code = process.wait()
        if code == SKIP_EXIT:
            self.reporter.warn(f"skipping {recipe.tags[0]}: {' '.join(tail[-1:])}")
            return False
        if code != 0:
            raise DoclabError(f"{recipe.folder}/prepare.sh failed (exit {code}): {' | '.join(t for t in tail if t)}")
        return True

    def _helper_tag(self, tag: str) -> str:
        return f"{self.registry}/{registry_repository(tag)}:{split(tag)[1]}"

    def _build(self, recipe: Recipe, context: Path) -> str:
        helper = self._helper_tag(recipe.tags[0])
        image_id = None
        last_lines: list[str] = []
        for chunk in self.client.api.build(
            path=str(context),
            tag=helper,
            rm=True,
            forcerm=True,
            pull=False,
            decode=True,
            timeout=1800,
        ):
            if "error" in chunk:
                raise DoclabError(
                    f"building {recipe.tags[0]} failed: {chunk['error'].strip()} | {' | '.join(last_lines[-2:])}"
                )
            if "stream" in chunk:
                self.reporter.detail(chunk["stream"])
                if chunk["stream"].strip():
                    last_lines.append(chunk["stream"].strip())
            if "aux" in chunk and "ID" in chunk["aux"]:
                image_id = chunk["aux"]["ID"]
        if image_id is None:
            image_id = self.client.images.get(helper).id
        return image_id

    def _push(self, recipe: Recipe, image_id: str) -> str:
        digest = None
        for tag in recipe.tags:
            helper = self._helper_tag(tag)
            self.client.api.tag(image_id, helper.rsplit(":", 1)[0], split(tag)[1])
            for chunk in self.client.api.push(helper.rsplit(":", 1)[0], split(tag)[1], stream=True, decode=True):
                if "error" in chunk:
                    raise DoclabError(f"pushing {helper} failed: {chunk['error']}")
                self.reporter.detail(chunk.get("status", "") + " " + chunk.get("progress", ""))
                digest = chunk.get("aux", {}).get("Digest", digest)
        # The build's helper tags go; removing the last one also removes the classic
        # builder's intermediate images. The plain names then come through the mirror.
        self._remove_helper_tags(recipe)
        return digest or registry.manifest_digest(registry_repository(recipe.tags[0]), split(recipe.tags[0])[1]) or ""

    def _remove_helper_tags(self, recipe: Recipe) -> None:
        for tag in recipe.tags:
            try:
                self.client.images.remove(self._helper_tag(tag))
            except docker.errors.ImageNotFound:
                pass
            except docker.errors.APIError:
                pass

    def _remove_new_dangling(self, before: set[str]) -> None:
        """After a failed build: the half-built layers it left (forcerm already removed its containers)."""
        for image in self.client.images.list(filters={"dangling": True}):
            if image.id not in before:
                try:
                    self.client.images.remove(image.id)
                except docker.errors.APIError:
                    pass


def provision(
    client: docker.DockerClient,
    tags: tuple[str, ...] | list[str],
    image_id: str,
    reporter: Reporter,
) -> list[str]:
    """Pulls the tags through the mirror unless the daemon already has them as `image_id`.
    An older image those tags pointed to is removed once nothing else names it."""
    pulled = []
    for tag in tags:
        old = None
        try:
            current = client.images.get(tag)
            if current.id == image_id:
                continue
            old = current.id
        except docker.errors.ImageNotFound:
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
            except docker.errors.APIError:
                pass
    return pulled
