"""The documentation's maps and outputs are what the gateway really reads and prints."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
import yaml

from gateway.cli import main
from gateway.mapping.loader import compile_mapping
from gateway.settings import SettingsSchema
from gateway.yamlfile import loads

REPO = Path(__file__).resolve().parents[1]
# Where the code, tests, maps and deployment files cite the repository's documentation.
CITING = ("gateway", "tests", "mappings", "deploy", "README.md", "docs")
CITATION = re.compile(r"(?<![\w/.-])docs/([\w./-]+\.md)(?:#([\w-]+))?")
# Sources that are not in the repository: the shared notes of the people who wrote it,
# their `[D1]`-style source keys, and the seed documents.
OUTSIDE = re.compile(r"shared/|(?<!docs/)\bentra-wire\.md|\[(?:D|I|Q|R|V|A)[0-9]+\b|\bseed 0[0-9]")


def _cited_files() -> list[Path]:
    files = []
    for name in CITING:
        path = REPO / name
        candidates = [path] if path.is_file() else sorted(path.rglob("*"))
        files += [f for f in candidates if f.is_file() and f.suffix in (".py", ".md", ".yaml", ".yml", ".sh", ".conf")]
    return [f for f in files if f != Path(__file__).resolve()]


def _anchors(document: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", document.read_text(), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def _citations() -> list[tuple[str, str, str | None]]:
    found = []
    for path in _cited_files():
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            where = f"{path.relative_to(REPO)}:{number}"
            for match in CITATION.finditer(line):
                found.append((where, match.group(1), match.group(2)))
            if path.parent == REPO / "docs":  # a link to a section of the same document
                found += [(where, path.name, anchor) for anchor in re.findall(r"\]\(#([\w-]+)\)", line)]
    return found


def test_the_code_cites_the_entra_wire_document():
    assert sum(document == "entra-wire.md" for _, document, _ in _citations()) >= 40


@pytest.mark.parametrize(("where", "document", "anchor"), _citations(), ids=lambda value: str(value))
def test_every_cited_document_and_section_exists(where, document, anchor):
    path = REPO / "docs" / document
    assert path.is_file(), f"{where} cites docs/{document}, which does not exist"
    if anchor:
        assert anchor in _anchors(path), f"{where} cites docs/{document}#{anchor}, which has no such heading"


def test_nothing_cites_a_source_outside_the_repository():
    outside = []
    for path in _cited_files():
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                outside.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert outside == []


def test_the_readme_map_compiles():
    text = (REPO / "README.md").read_text()
    block = text[text.index("## The map") :].split("```yaml\n")[1].split("```")[0]
    assert [r.attribute for r in compile_mapping(loads(block, "README.md"), "README.md").users.rules] == [
        "uid",
        "mail",
        "scimAccountDisabled",
    ]


def test_the_reference_preview_example_prints_what_the_reference_shows(tmp_path, capsys, monkeypatch):
    text = (REPO / "mappings" / "README.md").read_text()
    shown = text[text.index("## mapping preview") :].split("```sh\n")[2].split("```")[0]
    command, output = shown.split("\n  | ")
    body = json.loads(command.split("echo '")[1].split("' \\")[0])
    current = tmp_path / "pieter.json"
    current.write_text(
        json.dumps(
            {
                "userName": "pieter@contoso.com",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Quality Control"},
            }
        )
    )
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(body)))
    assert main(["mapping", "preview", str(REPO / "mappings" / "iprova.yaml"), "--current", str(current)]) == 0
    assert capsys.readouterr().out.strip() == output.split("\n", 1)[1].strip()


def test_the_readme_settings_for_a_real_host_are_valid_settings():
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Run it for real") : text.index("## Security")]
    block = section.split("```yaml\n")[1].split("```")[0]
    settings = SettingsSchema().load(yaml.safe_load(block))
    assert settings["trusted_proxies"] == 1 and settings["listen"] == "127.0.0.1:8080"
    skeleton = (REPO / "deploy" / "install.sh").read_text()
    assert "trusted_proxies: 1" in skeleton and "listen: 127.0.0.1:8080" in skeleton
