"""Prompt templates as versioned files in the repository.

A template file looks like::

    version: v1
    ---- system
    You are ...
    ---- user
    Course: $title ...

Placeholders use ``$name`` (``string.Template``), so JSON examples with braces need no escaping.
The version recorded with every output is ``<name>@<declared version>+<content hash>``: an edit
that forgets to bump the declared version still changes the recorded version.
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

SECTION = "---- "


class PromptError(ValueError):
    """A template file is malformed or a render misses a variable."""


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    declared_version: str
    system: str
    user: str
    content_hash: str

    @property
    def version(self) -> str:
        return f"{self.name}@{self.declared_version}+{self.content_hash}"

    @property
    def variables(self) -> frozenset[str]:
        names: set[str] = set()
        for text in (self.system, self.user):
            for _, named, braced, _ in string.Template.pattern.findall(text):
                names.add(named or braced)
        names.discard("")
        return frozenset(names)

    def render(self, variables: Mapping[str, object]) -> tuple[str, str]:
        """(system, user) with every placeholder filled; extra or missing variables are errors.

        Refusing extra variables keeps data a template does not ask for (personal data above all)
        from ever being passed along by accident.
        """
        given = set(variables)
        if missing := self.variables - given:
            raise PromptError(f"prompt {self.name}: missing variable(s) {sorted(missing)}")
        if extra := given - self.variables:
            raise PromptError(f"prompt {self.name}: unexpected variable(s) {sorted(extra)}")
        values = {key: str(value) for key, value in variables.items()}
        return (
            string.Template(self.system).substitute(values),
            string.Template(self.user).substitute(values),
        )

    def render_redacted(self, variables: Mapping[str, object], redact: Iterable[str]) -> tuple[str, str]:
        """The render with each variable in ``redact`` replaced by ``[name]``: what logs may hold."""
        hidden = set(redact)
        return self.render({k: f"[{k}]" if k in hidden else v for k, v in variables.items()})


def parse_prompt(name: str, text: str) -> PromptTemplate:
    head, _, rest = text.partition(SECTION)
    version = ""
    for line in head.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == "version":
            version = value.strip()
    if not version:
        raise PromptError(f"prompt {name}: needs a 'version: ...' line before the first section")
    sections: dict[str, str] = {}
    for chunk in (SECTION + rest).split("\n" + SECTION):
        chunk = chunk.removeprefix(SECTION)
        title, _, body = chunk.partition("\n")
        sections[title.strip()] = body.strip("\n")
    if set(sections) != {"system", "user"}:
        raise PromptError(
            f"prompt {name}: needs exactly the sections system and user, got {sorted(sections)}"
        )
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return PromptTemplate(name, version, sections["system"], sections["user"], digest)


def load_prompt(folder: Path, name: str) -> PromptTemplate:
    """Read ``<folder>/<name>.txt``."""
    path = folder / f"{name}.txt"
    if not path.exists():
        raise PromptError(f"prompt template {path} is missing")
    return parse_prompt(name, path.read_text(encoding="utf-8"))
