"""Settings: safe defaults, the generated secret key, and the README telling the truth."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from eventapp.config import SETTINGS, load_config

pytestmark = pytest.mark.single_db  # nothing here touches a database
README = Path(__file__).resolve().parents[2] / "README.md"


def test_defaults_run_without_any_setting(tmp_path):
    config = load_config({"EVENTAPP_INSTANCE_PATH": str(tmp_path)})
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'eventapp.db'}"
    assert config["CELERY"]["task_always_eager"] is True
    assert config["MAX_CONTENT_LENGTH"] == 32 * 1024 * 1024
    assert config["BABEL_DEFAULT_LOCALE"] == "zh_CN"


def test_the_secret_key_is_generated_once_private_and_kept(tmp_path):
    first = load_config({"EVENTAPP_INSTANCE_PATH": str(tmp_path)})["SECRET_KEY"]
    second = load_config({"EVENTAPP_INSTANCE_PATH": str(tmp_path)})["SECRET_KEY"]
    assert first == second and len(first) >= 40
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600
    given = load_config({"EVENTAPP_INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "from-env"})
    assert given["SECRET_KEY"] == "from-env"


def test_postgresql_urls_use_psycopg_3(tmp_path):
    for url in ("postgres://u:p@h/db", "postgresql://u:p@h/db"):
        config = load_config({"EVENTAPP_INSTANCE_PATH": str(tmp_path), "DATABASE_URL": url})
        assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p@h/db"


def test_a_broker_turns_inline_tasks_off(tmp_path):
    config = load_config({"EVENTAPP_INSTANCE_PATH": str(tmp_path),
                          "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
                          "CELERY_VISIBILITY_TIMEOUT": "30"})
    celery = config["CELERY"]
    assert celery["task_always_eager"] is False and celery["task_acks_late"] is True
    assert celery["result_backend"] == "redis://127.0.0.1:6379/0"
    assert celery["broker_transport_options"]["visibility_timeout"] == 30
    assert celery["broker_transport_options"]["unacked_restore_interval"] == 10


def test_the_readme_documents_every_setting_with_its_default():
    table = {m.group(1): m.group(2) for m in re.finditer(
        r"^\| `([A-Z_]+)` \| ([^|]+) \|", README.read_text(), re.MULTILINE)}
    for setting in SETTINGS:
        assert setting.name in table, f"README's configuration table lacks {setting.name}"
        if setting.default:
            assert f"`{setting.default}`" == table[setting.name].strip(), setting.name


def test_workers_starting_together_agree_on_one_secret_key(tmp_path):
    import subprocess
    import sys

    script = ("import sys; from eventapp.config import load_config; "
              "print(load_config({'EVENTAPP_INSTANCE_PATH': sys.argv[1]})['SECRET_KEY'])")
    workers = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(8)]
    results = [worker.communicate(timeout=60) for worker in workers]
    assert all(worker.returncode == 0 for worker in workers), [err for _out, err in results]
    keys = {out.strip() for out, _err in results}
    assert len(keys) == 1 and keys == {(tmp_path / "secret_key").read_text().strip()}
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"], "no drafts left behind"
