"""The image catalogue: simulated sizes and behaviour of well-known images, and image reference parsing.

An image is matched on the last component of its repository, whatever its registry and tag:
``nginx``, ``nginx:1.27-alpine``, ``docker.io/library/nginx@sha256:…`` and ``mirror.local:5000/web/nginx``
are all ``nginx``. Sizes are roughly the compressed size of the real ``amd64`` image, since that is what
a pull moves; behaviour is written as the same settings the ``sim.kubenats.io/…`` annotations take.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from services.runtime.values import parse_bytes

DEFAULT_REGISTRY: Final = "docker.io"


@dataclass(frozen=True, slots=True)
class ImageReference:
    registry: str
    repository: str
    tag: str
    digest: str

    @property
    def name(self) -> str:
        """The catalogue name: the last component of the repository, lower-cased."""
        return self.repository.rsplit("/", 1)[-1].lower()

    def canonical(self) -> str:
        """``nginx`` → ``docker.io/library/nginx:latest``, as a runtime reports an image it holds."""
        text = f"{self.registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_reference(image: str) -> ImageReference:
    """Split an image reference the way container runtimes read it; raises ValueError if it is empty."""
    text = image.strip()
    if not text:
        raise ValueError("empty image reference")
    text, _, digest = text.partition("@")
    first, slash, rest = text.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = DEFAULT_REGISTRY, text
    repository, colon, tag = path.rpartition(":")
    if not colon or "/" in tag:
        repository, tag = path, ""
    if registry == DEFAULT_REGISTRY and "/" not in repository:
        repository = f"library/{repository}"
    if not tag and not digest:
        tag = "latest"
    return ImageReference(registry, repository, tag, digest)


@dataclass(frozen=True, slots=True)
class ImageProfile:
    """What the catalogue knows about an image."""

    size: int
    """Bytes a pull moves."""
    settings: Mapping[str, str] = field(default_factory=dict)
    """Behaviour keys, below the command and the annotations."""
    greeting: tuple[str, ...] = ()
    """Log lines written once the application is up."""
    shell: bool = False
    """A shell image: with no command it runs ``sh``, which exits 0 at once without a terminal."""


def _image(size: str, greeting: tuple[str, ...] = (), shell: bool = False, **settings: str) -> ImageProfile:
    keys = {key.replace("_", "-"): value for key, value in settings.items()}
    return ImageProfile(parse_bytes(size), keys, greeting, shell)


_ACCESS_LOG: Final = '10.244.0.1 - - "GET / HTTP/1.1" 200 615 "-" "kube-probe/1.30"'

CATALOGUE: Final[Mapping[str, ImageProfile]] = {
    "pause": _image("300Ki", startup="0s", cpu="0", memory="512Ki", shutdown="0s"),
    "busybox": _image("2Mi", shell=True, startup="0s", cpu="1m", memory="1Mi", shutdown="0s"),
    "alpine": _image("4Mi", shell=True, startup="0s", cpu="1m", memory="1Mi", shutdown="0s"),
    "debian": _image("48Mi", shell=True, startup="0s", cpu="1m", memory="2Mi", shutdown="0s"),
    "ubuntu": _image("29Mi", shell=True, startup="0s", cpu="1m", memory="2Mi", shutdown="0s"),
    "nginx": _image(
        "70Mi",
        ("Configuration complete; ready for start up",),
        startup="300ms",
        cpu="2m",
        cpu_peak="25m",
        cpu_pattern="spiky",
        cpu_period="30s",
        memory="8Mi",
        log_interval="15s",
        log_line=_ACCESS_LOG,
        shutdown="200ms",
    ),
    "httpd": _image(
        "60Mi",
        ("AH00094: Command line: 'httpd -D FOREGROUND'",),
        startup="500ms",
        cpu="3m",
        cpu_peak="20m",
        cpu_pattern="spiky",
        cpu_period="30s",
        memory="12Mi",
        log_interval="15s",
        log_line=_ACCESS_LOG,
        shutdown="300ms",
    ),
    "redis": _image(
        "45Mi",
        ("Ready to accept connections tcp",),
        startup="200ms",
        cpu="4m",
        memory="8Mi",
        shutdown="200ms",
    ),
    "memcached": _image("35Mi", startup="100ms", cpu="2m", memory="6Mi", shutdown="100ms"),
    "postgres": _image(
        "150Mi",
        ("database system is ready to accept connections",),
        startup="3s",
        cpu="10m",
        cpu_peak="60m",
        cpu_pattern="sine",
        cpu_period="120s",
        memory="48Mi",
        shutdown="1s",
    ),
    "mysql": _image(
        "180Mi",
        ("ready for connections. Version: '8.4.0'",),
        startup="8s",
        cpu="15m",
        cpu_peak="80m",
        cpu_pattern="sine",
        cpu_period="120s",
        memory="360Mi",
        shutdown="2s",
    ),
    "python": _image("380Mi", startup="1s", cpu="5m", memory="24Mi", shutdown="100ms"),
    "node": _image("390Mi", startup="1s", cpu="5m", memory="40Mi", shutdown="100ms"),
}
"""Well-known images by name. Unknown images get :data:`DEFAULT_IMAGE`."""

DEFAULT_IMAGE: Final = _image("100Mi")
"""An image the catalogue does not know: 100 MiB, and the default behaviour (behaviour.DEFAULTS)."""


def image_profile(image: str) -> ImageProfile:
    return CATALOGUE.get(parse_reference(image).name, DEFAULT_IMAGE)
