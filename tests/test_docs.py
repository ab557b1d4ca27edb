"""The documentation's maps and outputs are what the gateway really reads and prints."""

from __future__ import annotations

import io
import json
from pathlib import Path

import yaml

from gateway.cli import main
from gateway.mapping.loader import compile_mapping
from gateway.settings import SettingsSchema
from gateway.yamlfile import loads

REPO = Path(__file__).resolve().parents[1]


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
