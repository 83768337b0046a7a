"""Golden SBPL: hand-built IR policies, and every profile of ``examples/`` and ``profiles/``.

Each snapshot is one file, ``tests/golden/test_seatbelt_golden/<test>[<case>].sbpl``, the exact text
Seatbelt would be given: a change to the backend or its templates shows as a diff of
those files, which is what a reviewer reads. Update with ``pytest --snapshot-update``.
Every golden is also run through the offline validator.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from golden_files import GOLDEN_DIR, REPO, GoldenSbpl, shipped_id, shipped_profiles
from seatbelt_policies import HAND_POLICIES, compile_policy, declared, fake_parameters
from seatbelt_sbpl import Vocabulary
from seatbelt_validate import validate

from nonoc.backends import seatbelt
from nonoc.backends.host import HostFacts


@pytest.fixture
def golden(snapshot):  # type: ignore[no-untyped-def]
    return snapshot.use_extension(GoldenSbpl)


@pytest.mark.parametrize("name", sorted(HAND_POLICIES))
def test_hand_built(name: str, golden, vocabulary_if_present: Vocabulary | None) -> None:  # type: ignore[no-untyped-def]
    artifact, _ = compile_policy(HAND_POLICIES[name])
    check(artifact, vocabulary_if_present)
    assert artifact["sbpl"] == golden


def check(artifact: dict, vocabulary: Vocabulary | None) -> None:  # type: ignore[type-arg]
    """Run the validator too, when the operation names are there to check against."""
    if vocabulary is not None:
        params = fake_parameters(artifact)
        assert validate(artifact["sbpl"], vocabulary, params, declared(artifact)).errors == []


SHIPPED_PROFILES = shipped_profiles()


@pytest.mark.parametrize(
    ("source", "profile"),
    SHIPPED_PROFILES
    or [
        pytest.param(
            "", "", marks=pytest.mark.skip(reason="no front end or no shipped profiles yet")
        )
    ],
    ids=[shipped_id(source, profile) for source, profile in SHIPPED_PROFILES] or ["none"],
)
def test_shipped(
    source: str,
    profile: str,
    golden,
    vocabulary_if_present: Vocabulary | None,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    from nonoc.resolve import resolve

    # Relative names keep the provenance comments (so the golden) free of this checkout's path.
    monkeypatch.chdir(REPO)
    resolution = resolve(source, "macos", profile=profile)
    artifact, _ = seatbelt.lower(resolution.policy, HostFacts.for_target("macos", arch="aarch64"))
    check(artifact, vocabulary_if_present)
    expected = GOLDEN_DIR / "test_seatbelt_golden" / f"{request.node.name}.sbpl"
    if not expected.exists() and not request.config.option.update_snapshots:
        pytest.fail(
            f"no golden SBPL for {source} yet: run `pytest {Path(__file__).relative_to(REPO)} "
            f"--snapshot-update`, read {expected.relative_to(REPO)} and commit it"
        )
    assert artifact["sbpl"] == golden
