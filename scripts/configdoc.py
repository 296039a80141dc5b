"""Prints the settings table of docs/configuration.md from server.config.Settings.

    .venv/bin/python scripts/configdoc.py   # paste over the table; tests/test_config_cli.py checks it
"""

from server.config import Settings

print("| key | environment | default | meaning |")
print("|---|---|---|---|")
for name, field in Settings.model_fields.items():
    default = field.default
    shown = '""' if default == "" else "(none)" if default is None else str(default)
    print(f"| `{name}` | `ASSETGATE_{name.upper()}` | `{shown}` | {field.description} |")
