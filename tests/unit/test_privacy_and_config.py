"""Personal-data protection, settings rules, translations and the role table."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from chengyun.auth.model import Principal, Role
from chengyun.auth.policy import ALLOWED, Permission, allows, require
from chengyun.config import Settings, ensure_secret, load_settings
from chengyun.errors import Forbidden, Invalid
from chengyun.i18n import catalogue, labelled, pick_locale, translate
from chengyun.shared.privacy import PersonalDataVault, mask_phone, normalise_phone

ROOT = Path(__file__).resolve().parents[2]


def test_phone_hash_matches_across_formats_and_differs_by_key() -> None:
    vault = PersonalDataVault("k" * 40)
    a = vault.match_hash(normalise_phone("+86 138-0013-8000"))
    b = vault.match_hash(normalise_phone("13800138000"))
    assert a == b and "13800138000" not in a
    assert PersonalDataVault("x" * 40).match_hash("13800138000") != a


def test_phone_encryption_round_trips_and_wrong_key_is_a_precise_error() -> None:
    token = PersonalDataVault("k" * 40).encrypt("13800138000")
    assert "13800138000" not in token
    assert PersonalDataVault("k" * 40).decrypt(token) == "13800138000"
    with pytest.raises(Invalid) as info:
        PersonalDataVault("z" * 40).decrypt(token)
    assert info.value.code == "privacy.undecryptable"


@pytest.mark.parametrize("raw", ["12345", "2380013800", "138001380001", "abc"])
def test_bad_phone_numbers_are_refused(raw: str) -> None:
    with pytest.raises(Invalid) as info:
        normalise_phone(raw)
    assert info.value.code == "privacy.bad_phone"


def test_mask_shows_three_and_four_digits() -> None:
    assert mask_phone("13800138000") == "138****8000"


def test_prod_refuses_a_weak_or_empty_secret(tmp_path: Path) -> None:
    for secret in ("", "changeme", "short"):
        with pytest.raises(Invalid) as info:
            ensure_secret(Settings(env="prod", secret_key=secret, data_dir=tmp_path))
        assert info.value.code == "config.weak_secret"


def test_dev_generates_and_keeps_a_secret(tmp_path: Path) -> None:
    first = ensure_secret(Settings(env="dev", data_dir=tmp_path))
    second = ensure_secret(Settings(env="dev", data_dir=tmp_path))
    assert len(first.secret_key) >= 32 and first.secret_key == second.secret_key


def test_settings_are_read_from_the_environment_when_loaded(monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    monkeypatch.setenv("CHENGYUN_ENV", "prod")
    monkeypatch.setenv("CHENGYUN_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("CHENGYUN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CHENGYUN_DATABASE_URL", "postgresql://u@h/db")
    settings = load_settings()
    assert settings.resolved_database_url == "postgresql://u@h/db" and not settings.is_dev
    monkeypatch.setenv("CHENGYUN_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ValueError, match="unknown time zone"):
        load_settings()


def test_locale_choice() -> None:
    assert pick_locale(None, None) == "zh-CN"
    assert pick_locale(None, "en-US,en;q=0.9") == "en"
    assert pick_locale("zh", "en-US") == "zh-CN"
    assert translate("auth.weak_password", "en", min_length=10) == "Passwords need at least 10 characters."


def test_catalogues_have_the_same_keys_and_every_code_in_the_code_is_translated() -> None:
    zh, en = catalogue("zh-CN"), catalogue("en")
    assert set(zh) == set(en)
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "chengyun").rglob("*.py"))
    raised = set(re.findall(r'(?:Invalid|InvalidTransition|NotFound|Conflict|Forbidden|Unauthenticated|Unavailable|'
                            r'ImportProblem|_problem|problem)\(\s*"([a-z_]+\.[a-z_.]+)"', source))
    templates = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "chengyun/web/templates").glob("*.html"))
    used = raised | set(re.findall(r"t\('([a-z_.]+[a-z_])'\s*[,)]", templates))  # not prefixes joined with ~
    assert raised, "the scan found no error codes: the pattern is broken"
    missing = sorted(code for code in used if code not in zh)
    assert not missing, f"untranslated codes: {missing}"
    assert json.dumps(zh, ensure_ascii=False).count("{") == json.dumps(zh, ensure_ascii=False).count("}")


def _principal(role: Role) -> Principal:
    return Principal(1, "u", "U", role, "510113002000", "/510100000000/510113000000/510113002000/")


def test_role_table_covers_every_permission_and_refuses_precisely() -> None:
    assert set(ALLOWED) == set(Permission)
    assert allows(_principal(Role.ADMIN), Permission.AREAS_IMPORT)
    with pytest.raises(Forbidden) as info:
        require(_principal(Role.RESIDENT), Permission.ORG_READ)
    assert info.value.params == {"permission": "org.read", "role": "resident"}
    assert not allows(_principal(Role.AUDITOR), Permission.CONTACT_REVEAL)


def test_scope_is_a_subtree() -> None:
    p = _principal(Role.OPERATOR)
    assert p.can_see_path("/510100000000/510113000000/510113002000/510113002001/")
    assert not p.can_see_path("/510100000000/510113000000/510113003000/")
    assert not p.can_see_path("/510100000000/510113000000/")


def test_error_sentences_name_states_actions_and_roles_by_their_labels() -> None:
    params = {"state": "registered", "action": "urge", "role": "handler", "number": "QY-1"}
    assert labelled(params, "zh-CN") == {"state": "待派遣", "action": "督办", "role": "处置人员", "number": "QY-1"}
    assert labelled(params, "en")["state"] != "registered"
    assert labelled({"state": "no-such-state"}) == {"state": "no-such-state"}  # unknown codes stay as they are
    assert "待派遣" in translate("cases.invalid_transition", "zh-CN", **labelled(params))
