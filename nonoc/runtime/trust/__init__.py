"""Provenance of instruction files: who wrote the CLAUDE.md an agent is about to obey.

Instruction files (``CLAUDE.md``, ``AGENTS.md``, ``AGENT.md``, ``SKILL.md``/``SKILLS.md``
and the scripts they name) steer an agent as surely as its code does, so they are a
supply-chain target. This package signs them (a Sigstore bundle next to each file, holding
a DSSE envelope around an in-toto statement), verifies them against a trust policy (keys,
or OIDC identities for keyless Sigstore signatures), and enforces the result before
``nono run`` starts an agent.

Modules: ``statement`` (the signed claim), ``envelope`` (DSSE and the bundle file),
``keys`` (key pairs, keyring and file storage), ``policy`` (the trust policy), ``verify``
(one file), ``keyless`` (Sigstore signing and offline verification), ``discover`` (the
working-tree walk), ``enforce`` (what ``nono run`` calls), ``sign`` (writing signatures),
``files`` (locations, atomic writes), ``bundle_statement`` (keyless-signed nono bundles),
and, for offline tests, ``local_authority`` (a self-contained Sigstore-shaped authority),
``local_services`` (it, served as Fulcio and Rekor on 127.0.0.1) and ``merkle``.
"""

from __future__ import annotations

from nonoc.runtime.trust.enforce import TrustDenied, TrustReport, enforce
from nonoc.runtime.trust.policy import IdentityRule, TrustedKey, TrustPolicy, load_policy
from nonoc.runtime.trust.verify import TrustFailure, VerifiedFile, verify_file

__all__ = [
    "IdentityRule",
    "TrustDenied",
    "TrustFailure",
    "TrustPolicy",
    "TrustReport",
    "TrustedKey",
    "VerifiedFile",
    "enforce",
    "load_policy",
    "verify_file",
]
