"""Audit: verify, replay, re-check and what-if, export, erasure and retention.

Everything here reads through the :class:`~csflow.stores.Store` protocol and
needs nothing the application that wrote the events could influence: hash
chains and snapshots are checked from the stored bytes, decisions are
re-derived under the ruleset versions the store kept, and replay applies
recorded facts. See ``docs/audit.md`` for an auditor's walk-through.
"""

from csflow.audit._anchor import Anchor, AnchorError, merkle_root
from csflow.audit._decisions import DecisionDiff, DecisionReport, recheck, whatif
from csflow.audit._erasure import CUSTOMER_KEY, Erasure, Expired, erase_customer, retention
from csflow.audit._export import FORMATS, export
from csflow.audit._history import CaseHistory, case_history, workflows_by_key
from csflow.audit._verify import KINDS, Damage, VerifyReport, locate, verify_store

__all__ = [
    "CUSTOMER_KEY",
    "FORMATS",
    "KINDS",
    "Anchor",
    "AnchorError",
    "CaseHistory",
    "Damage",
    "DecisionDiff",
    "DecisionReport",
    "Erasure",
    "Expired",
    "VerifyReport",
    "case_history",
    "erase_customer",
    "export",
    "locate",
    "merkle_root",
    "recheck",
    "retention",
    "verify_store",
    "whatif",
    "workflows_by_key",
]
