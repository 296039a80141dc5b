"""Schema migrations with Alembic, driven from code so `assetgate init` needs no alembic.ini."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or migrate the database to ``revision``."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def missing_sqlite_file(url: str) -> str | None:
    """The one-line reason when the URL names a SQLite file that does not exist (checked before any
    engine is made: making one would create an empty file)."""
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if url.startswith("sqlite") and database and database != ":memory:" and not Path(database).exists():
        return (f"no AssetGate database at {database}: run `assetgate init`, "
                "or set ASSETGATE_INSTANCE_PATH or ASSETGATE_DATABASE_URL")
    return None


def not_ready_reason(url: str, engine: Engine) -> str | None:
    """Why commands cannot use this database yet (missing file, never initialised, older schema), or None.

    One clear line that names what was tried and what to do, instead of a traceback from deep inside.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    hint = "run `assetgate init`, or set ASSETGATE_INSTANCE_PATH or ASSETGATE_DATABASE_URL"
    try:
        current = current_revision(engine)
    except OperationalError as exc:
        return f"cannot open the database {make_url(url).render_as_string(hide_password=True)}: {exc.orig}"
    if current is None:
        return f"the database {make_url(url).render_as_string(hide_password=True)} is not initialised: {hint}"
    if current != head_revision():
        return f"the database schema is at {current}, this version needs {head_revision()}: run `assetgate init`"
    return None
