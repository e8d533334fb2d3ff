"""Finding, adding and offering toolchains; the contract every role is told."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from vitco.agents.outputs import Plan, QaTests
from vitco.toolchains import (
    DEFAULT_TOOLCHAIN,
    UnknownToolchain,
    available,
    get_toolchain,
    register,
    unregister,
)


def test_an_unknown_toolchain_names_the_known_ones() -> None:
    with pytest.raises(UnknownToolchain) as info:
        get_toolchain("cobol-mainframe")
    assert "python-service" in info.value.known
    assert "cobol-mainframe" in str(info.value) and "python-cli" in str(info.value)


def test_the_default_is_offered_first_and_names_are_unique() -> None:
    names = [t.name for t in available()]
    assert names[0] == DEFAULT_TOOLCHAIN
    assert {"python-service", "python-cli", "python-library"} <= set(names)
    with pytest.raises(ValueError, match="registered already"):
        register(get_toolchain("python-cli"))
    register(get_toolchain("python-cli"), replace=True)  # explicit replacement is allowed


def test_a_plan_may_only_name_a_toolchain_it_was_offered() -> None:
    answer = json.dumps(
        {
            "toolchain": "rust-cli",
            "tasks": [
                {"id": "T1", "title": "One", "description": "Do the one thing.", "complexity": 2}
            ],
        }
    )
    offered = {"toolchains": [t.name for t in available()]}
    with pytest.raises(ValidationError, match="toolchain 'rust-cli' is not one of"):
        Plan.model_validate_json(answer, context=offered)
    assert Plan.model_validate_json(answer).toolchain == "rust-cli"  # no menu: checked later


def test_qa_writes_where_the_toolchain_says_tests_live() -> None:
    files = {"files": [{"path": "test/app.test.js", "action": "write", "content": "x"}]}
    with pytest.raises(ValidationError, match="under tests/"):
        QaTests.model_validate(files)  # python's default
    assert QaTests.model_validate(files, context={"test_paths": ["test/", "tests/"]}).files


@pytest.mark.parametrize("name", ["python-service", "python-cli", "python-library"])
def test_each_python_contract_says_how_tests_run_and_what_is_there(name: str) -> None:
    contract = get_toolchain(name).contract()
    text = contract.render()
    assert contract.test_paths == ["tests/"]
    assert "pytest" in text and "requirements.txt" in text and "Python 3." in text
    assert "no network" in text
    assert contract.delivery in text


def test_a_service_contract_explains_the_handed_in_socket() -> None:
    text = get_toolchain("python-service").contract().render()
    assert "{fd}" in text and "--fd {fd}" in text


def test_unregister_forgets_a_toolchain() -> None:
    class Probe:
        name = "probe-kit"

    register(Probe())  # type: ignore[arg-type]
    assert get_toolchain("probe-kit")
    unregister("probe-kit")
    with pytest.raises(UnknownToolchain):
        get_toolchain("probe-kit")
